-- The plugin's settings: require('mai').setup({...}) or, before the first command, vim.g.mai = {...}.
local M = {}

M.defaults = {
  -- The program and its arguments (a list), started through Neovim's own RPC client (vim.lsp.rpc).
  -- E.g. { 'node', '/path/to/mai/dist/bundle/mai.js', 'serve', '--config', '/path/to/mai.config.yaml' }.
  cmd = { 'mai', 'serve' },
  -- Extra environment variables for mai serve (merged into Neovim's), and its working directory.
  env = nil,
  cwd = nil,
  -- How the answer window opens when the tab does not show it yet (an Ex command that splits).
  split = 'botright 15split',
  -- How long quitting Neovim waits for mai serve to answer shutdown and to exit, in milliseconds.
  shutdown_timeout_ms = 3000,
}

local options

--- Settings given to setup() win over vim.g.mai, which wins over the defaults (a shallow merge:
--- `cmd` is replaced whole, never merged item by item).
function M.setup(opts)
  options = vim.tbl_extend('force', M.defaults, vim.g.mai or {}, opts or {})
  if type(options.cmd) == 'string' then options.cmd = { options.cmd, 'serve' } end
  vim.validate({
    cmd = { options.cmd, 'table' },
    env = { options.env, 'table', true },
    cwd = { options.cwd, 'string', true },
    split = { options.split, 'string' },
    shutdown_timeout_ms = { options.shutdown_timeout_ms, 'number' },
  })
  return options
end

function M.get()
  return options or M.setup()
end

return M
