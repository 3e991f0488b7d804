-- Mai for Neovim: the commands. A conversation per tab page, continued across prompts, shown in
-- the tab's scratch buffer. Every rule (which model answers, fallback, budgets, what is stored)
-- lives in Mai; this file sends Mai's documented methods and shows their replies.
local answer = require('mai.answer')
local client = require('mai.client')
local config = require('mai.config')

local M = {}

local api = vim.api
local levels = vim.log.levels
local conversations = {} -- tabpage handle -> { id?, buf, turn? }
local model_ids = {} -- the ids of the last models/list, for :MaiSwitch's completion
local next_token = 0

local function notify(message, level)
  vim.notify('Mai: ' .. message, level or levels.INFO)
end

function M.setup(opts)
  config.setup(opts)
end

--- The conversation of tab `tab` (default: the current one), made on first use.
function M.conversation(tab)
  tab = tab or api.nvim_get_current_tabpage()
  local conversation = conversations[tab]
  if not conversation or not api.nvim_buf_is_valid(conversation.buf) then
    conversation = { buf = answer.create(tab), id = conversation and conversation.id }
    conversations[tab] = conversation
  end
  return conversation
end

local function finish(conversation, turn, state)
  if conversation.turn == turn then conversation.turn = nil end
  turn.finished = true
  client.on_progress(turn.token, nil)
  answer.status(turn.buf, { state = state })
end

--- :Mai {prompt} and :'<,'>Mai [prompt]: sends the prompt (with the selected lines) as the next
--- turn of this tab's conversation and streams the answer into its buffer.
function M.prompt(opts)
  local prompt = vim.trim(opts.args or '')
  local shown = prompt ~= '' and vim.split(prompt, '\n', true) or {}
  if opts.range and opts.range > 0 then
    local lines = api.nvim_buf_get_lines(0, opts.line1 - 1, opts.line2, false)
    local name = vim.fn.expand('%:t')
    local fence = '```' .. vim.bo.filetype
    prompt = (prompt ~= '' and (prompt .. '\n\n') or '') .. fence .. '\n' .. table.concat(lines, '\n') .. '\n```'
    table.insert(shown, ('[lines %d-%d of %s]'):format(opts.line1, opts.line2, name ~= '' and name or 'the buffer'))
  end
  if prompt == '' then
    return notify('what should Mai answer? :Mai {prompt}, or select lines and :\'<,\'>Mai [prompt]', levels.WARN)
  end
  local conversation = M.conversation()
  if conversation.turn then
    return notify('an answer is still streaming in this tab: wait for it, or :MaiCancel it', levels.WARN)
  end
  local buf = conversation.buf
  answer.show(buf, config.get().split)
  next_token = next_token + 1
  local turn = { buf = buf, token = ('mai.nvim-%d-%d'):format(vim.fn.getpid(), next_token), pieces = {} }
  turn.start = answer.begin(buf, shown)
  conversation.turn = turn
  answer.status(buf, { state = 'starting', model = '' })
  client.on_progress(turn.token, function(value)
    if turn.finished or type(value) ~= 'table' then return end
    if value.kind == 'delta' then
      table.insert(turn.pieces, value.text)
      answer.append(buf, value.text)
      answer.status(buf, { model = value.model or vim.b[buf].mai_model, state = turn.cancelling and 'cancelling' or 'answering' })
    elseif value.kind == 'restart' then
      -- A fallback started over with another model: what came so far is not part of the answer.
      turn.pieces = {}
      answer.replace(buf, turn.start, '')
      answer.status(buf, { model = value.model, state = 'answering' })
    end
  end)
  local params = { message = prompt, progressToken = turn.token, conversationId = conversation.id }
  turn.id = client.request('chat/send', params, function(err, result)
    if turn.finished then return end
    if err then
      finish(conversation, turn, 'failed')
      return notify(client.describe(err), levels.ERROR)
    end
    conversation.id = result.conversationId
    -- The reply is the whole answer: the buffer shows exactly it, however the deltas arrived.
    if table.concat(turn.pieces) ~= result.text then answer.replace(buf, turn.start, result.text) end
    answer.status(buf, { model = result.model, conversation = result.conversationId })
    finish(conversation, turn, 'done')
  end, function()
    -- Any reply ends the turn; a cancelled one (-32800) never reaches the callback above.
    vim.schedule(function()
      if not turn.finished then finish(conversation, turn, 'cancelled') end
    end)
  end)
  if not turn.id and not turn.finished then finish(conversation, turn, 'not started') end
end

--- :MaiCancel: cancels this tab's streaming answer ($/cancelRequest); Mai stores nothing of it.
function M.cancel()
  local conversation = conversations[api.nvim_get_current_tabpage()]
  local turn = conversation and conversation.turn
  if not turn or not turn.id then return notify('nothing to cancel in this tab', levels.WARN) end
  turn.cancelling = true
  client.notify('$/cancelRequest', { id = turn.id })
  answer.status(turn.buf, { state = 'cancelling' })
end

local function size(bytes)
  if type(bytes) ~= 'number' then return '' end
  return bytes >= 2 ^ 30 and ('%.1f GiB'):format(bytes / 2 ^ 30) or ('%.0f MiB'):format(bytes / 2 ^ 20)
end

--- :MaiModels: the models Mai can use, whether each fits now, and which one is current or pinned.
function M.models()
  client.request('models/list', nil, function(err, result)
    if err then return notify(client.describe(err), levels.ERROR) end
    model_ids = {}
    local lines = { 'models (* current, ! pinned):' }
    for _, model in ipairs(result.models) do
      table.insert(model_ids, model.id)
      local marks = (model.id == result.current and '*' or ' ') .. (model.id == result.pinned and '!' or ' ')
      local fits = model.fits and 'fits' or ('does not fit: ' .. (model.reason or table.concat(model.vetoes or {}, '; ')))
      table.insert(lines, ('%s %s  [%s, %s, %d tokens%s] %s'):format(marks, model.id, model.backend, model.tier, model.contextLength or 0, model.sizeBytes and (', ' .. size(model.sizeBytes)) or '', fits))
    end
    if #result.models == 0 then table.insert(lines, '  (none: no backend lists a model; :MaiStatus shows the backends)') end
    notify(table.concat(lines, '\n'))
  end)
end

--- :MaiStatus: the model in use, the pin, the backends, the counters, and this tab's conversation.
function M.status()
  client.request('status', nil, function(err, result)
    if err then return notify(client.describe(err), levels.ERROR) end
    local lines = {
      ('model %s%s · turns %d · fallbacks %d · switches %d'):format(result.model or '(none yet)', result.pinned and (' (pinned ' .. result.pinned .. ')') or '', result.counters.turns, result.counters.fallbacks, result.counters.switches),
    }
    for _, backend in ipairs(result.backends or {}) do
      table.insert(lines, ('backend %s: %s'):format(backend.name, backend.reachable and 'reachable' or ('unreachable' .. (backend.error and (' (' .. backend.error .. ')') or ''))))
    end
    if result.lastSwitch then table.insert(lines, ('last switch: %s -> %s (%s)'):format(result.lastSwitch.from or '-', result.lastSwitch.to or '-', result.lastSwitch.reason or '')) end
    table.insert(lines, 'config: ' .. ((result.config or {}).file or '(built-in)'))
    local conversation = conversations[api.nvim_get_current_tabpage()]
    table.insert(lines, 'this tab: ' .. (conversation and conversation.id and ('conversation ' .. conversation.id) or 'no conversation yet'))
    notify(table.concat(lines, '\n'))
  end)
end

--- :MaiSwitch {model}: pins a model for every turn ("auto" unpins); Mai checks the id.
function M.switch(model)
  model = vim.trim(model or '')
  if model == '' then return notify('which model? :MaiSwitch {model} (Tab completes), or :MaiSwitch auto', levels.WARN) end
  client.request('models/switch', { model = model }, function(err, result)
    if err then return notify(client.describe(err), levels.ERROR) end
    notify(result.pinned and ('pinned ' .. result.pinned .. ': it answers every turn until :MaiSwitch auto') or 'unpinned: Mai chooses the model for each turn')
  end)
end

--- Completion for :MaiSwitch: "auto" and the model ids. The first time it waits (up to 3 s) for
--- models/list; later it answers from the last list and asks for a fresh one for next time.
function M.complete_models(lead)
  local done = false
  client.request('models/list', nil, function(err, result)
    done = true
    if err then return end
    model_ids = {}
    for _, model in ipairs(result.models) do table.insert(model_ids, model.id) end
  end)
  if #model_ids == 0 then
    vim.wait(3000, function()
      return done
    end, 10)
  end
  local matches = {}
  for _, id in ipairs(vim.list_extend({ 'auto' }, model_ids)) do
    if id:sub(1, #lead) == lead then table.insert(matches, id) end
  end
  return matches
end

--- Forgets the conversations of closed tabs (their history stays in Mai's store).
function M.forget_closed_tabs()
  for tab, conversation in pairs(conversations) do
    if not api.nvim_tabpage_is_valid(tab) then
      if conversation.turn then client.notify('$/cancelRequest', { id = conversation.turn.id }) end
      conversations[tab] = nil
    end
  end
end

M.stop = client.stop
M.pid = client.pid

return M
