/**
 * The shapes of Ollama's native API that Mai reads, as its docs give them
 * (docs.ollama.com/api: /api/tags, /api/ps, /api/show, /api/chat). Every field is optional
 * because Ollama versions differ (context_length on /api/ps and capabilities on /api/show are
 * recent); readers check what they use.
 */

export interface OllamaDetails {
  parent_model?: string;
  format?: string;
  family?: string;
  families?: string[] | null;
  parameter_size?: string;
  quantization_level?: string;
}

/** One entry of GET /api/tags: a model on disk. */
export interface OllamaTag {
  name: string;
  model?: string;
  modified_at?: string;
  size?: number;
  digest?: string;
  details?: OllamaDetails;
}

/** One entry of GET /api/ps: a model loaded in memory. */
export interface OllamaRunning {
  name: string;
  model?: string;
  size?: number;
  digest?: string;
  details?: OllamaDetails;
  expires_at?: string;
  size_vram?: number;
  context_length?: number;
}

/** POST /api/show: what Mai reads of a model's details. */
export interface OllamaShow {
  details?: OllamaDetails;
  model_info?: Record<string, unknown>;
  /** Recent versions: completion, tools, vision, thinking, embedding, insert. */
  capabilities?: string[];
  parameters?: string;
}

/** One line of a streamed POST /api/chat (or its error line). */
export interface OllamaChatLine {
  model?: string;
  created_at?: string;
  message?: { role?: string; content?: string; thinking?: string };
  done?: boolean;
  done_reason?: string;
  total_duration?: number;
  load_duration?: number;
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
  error?: string;
}

/** The body of POST /api/chat as Mai sends it. */
export interface OllamaChatBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  stream: boolean;
  options?: { num_ctx?: number; num_predict?: number; temperature?: number };
  keep_alive?: string | number;
}
