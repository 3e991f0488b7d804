-- One `mai serve` per Neovim, spoken to through Neovim's own JSON-RPC client (vim.lsp.rpc:
-- Content-Length framing over the process's stdio). Started on the first command, stopped with
-- shutdown + exit when Neovim quits. Nothing here knows Mai's rules: it sends requests and
-- routes `$/progress` notifications to whoever asked with that token.
local config = require('mai.config')

local M = {}

local levels = vim.log.levels
local session -- { rpc, command, pending = {id -> callback}, initialize_id, initialized, exited, stopping, reported }
local progress = {} -- progressToken -> function(value)

local function notify(message, level)
  vim.schedule(function()
    vim.notify('Mai: ' .. message, level or levels.INFO)
  end)
end

--- Mai's errors say what went wrong and what to do; its code (data.code) follows in brackets.
function M.describe(err)
  if type(err) ~= 'table' then return tostring(err) end
  local code = type(err.data) == 'table' and err.data.code
  return (err.message or 'request failed') .. (code and (' [' .. code .. ']') or '')
end

local function log_hint()
  local ok, path = pcall(vim.lsp.get_log_path)
  return ok and (" Its messages on stderr are in Neovim's LSP log: " .. path) or ''
end

local function on_exit(current, code, signal)
  -- Runs in a libuv callback: no Neovim API here except through vim.schedule.
  current.exited = true
  if session == current then session = nil end
  local pending = current.pending
  current.pending = {}
  vim.schedule(function()
    local how = ('exit code %d%s'):format(code, signal ~= 0 and (', signal ' .. signal) or '')
    local unexpected = not current.stopping and not current.reported and (code ~= 0 or signal ~= 0)
    local reason
    if not current.initialized then
      -- It never answered initialize: the command is not a working `mai serve`.
      reason = ('`%s` ended (%s) before it answered: check the command, require(\'mai\').setup({ cmd = { … } }).%s'):format(current.command, how, log_hint())
    else
      reason = ('mai serve stopped (%s) before answering; the next command starts it again.%s'):format(how, unexpected and log_hint() or '')
    end
    local told = false
    for id, callback in pairs(pending) do
      callback({ message = reason, data = { code = 'exited' } }, nil)
      told = told or id ~= current.initialize_id -- a command's callback shows the reason
    end
    if unexpected and not told then notify(reason, levels.ERROR) end
  end)
end

local function start()
  local opts = config.get()
  local program, args = opts.cmd[1], vim.list_slice(opts.cmd, 2)
  if type(program) ~= 'string' or vim.fn.executable(program) ~= 1 then
    notify(
      ('`%s` was not found or is not executable, so Mai cannot start. Install Mai (`npm install -g` in its checkout, or `npm link`), or name the command: '
        .. "require('mai').setup({ cmd = { 'node', '/path/to/mai/dist/bundle/mai.js', 'serve' } })"):format(tostring(program)),
      levels.ERROR
    )
    return nil
  end
  local current = { pending = {}, exited = false, stopping = false, command = table.concat(opts.cmd, ' ') }
  local ok, rpc = pcall(vim.lsp.rpc.start, program, args, {
    notification = function(method, params)
      if method == '$/progress' and type(params) == 'table' then
        local handler = progress[params.token]
        if handler then handler(params.value) end
      end
    end,
    on_exit = function(code, signal)
      on_exit(current, code, signal)
    end,
  }, { cwd = opts.cwd, env = opts.env })
  if not ok or not rpc then
    notify(('`%s %s` failed to start%s.%s'):format(program, table.concat(args, ' '), ok and '' or (': ' .. tostring(rpc)), log_hint()), levels.ERROR)
    return nil
  end
  current.rpc = rpc
  session = current
  local version = vim.version()
  current.initialize_id = M.request('initialize', {
    processId = vim.fn.getpid(),
    clientInfo = { name = 'mai.nvim', version = ('%d.%d.%d'):format(version.major, version.minor, version.patch) },
  }, function(err)
    if err and type(err.data) == 'table' and err.data.code == 'exited' then return end -- on_exit says why
    current.initialized = true
    if err then notify('initialize failed: ' .. M.describe(err), levels.ERROR) end
  end)
  return current
end

--- Sends a request, starting mai serve if needed. `callback(err, result)` runs once, on the main
--- loop; `on_reply()` runs when any reply came, a cancelled one included (whose callback never runs:
--- vim.lsp.rpc swallows -32800). Returns the request id, or nil when Mai could not be started.
function M.request(method, params, callback, on_reply)
  local current = session or start()
  if not current then return nil end
  local id
  local function done(err, result)
    local waiting = current.pending[id]
    if not waiting then return end
    current.pending[id] = nil
    if err and type(err.code) == 'number' and err.code <= -32010 and err.code >= -32013 then
      current.reported = true -- a config that fails: this reply already says why mai serve ends
    end
    waiting(err, result)
  end
  local sent
  sent, id = current.rpc.request(method, params, done, function()
    if on_reply then on_reply() end
    -- A cancelled request gets no callback from vim.lsp.rpc: forget it once its reply has come.
    vim.schedule(function()
      current.pending[id] = nil
    end)
  end)
  if not sent then
    callback({ message = 'mai serve is not running (it exited or is stopping).', data = { code = 'exited' } }, nil)
    return nil
  end
  current.pending[id] = callback
  return id
end

function M.notify(method, params)
  return session ~= nil and session.rpc.notify(method, params)
end

function M.on_progress(token, handler)
  progress[token] = handler
end

function M.running()
  return session ~= nil and not session.exited
end

function M.pid()
  return session and session.rpc.pid
end

--- shutdown, then exit, waiting for each (Neovim is quitting: VimLeavePre); a process that does
--- not end in time is terminated, so none is left behind.
function M.stop()
  local current = session
  if not current or current.exited then return end
  current.stopping = true
  local timeout = config.get().shutdown_timeout_ms
  local answered = false
  current.rpc.request('shutdown', nil, function()
    answered = true
  end, function()
    answered = true
  end)
  vim.wait(timeout, function()
    return answered or current.exited
  end, 10)
  current.rpc.notify('exit', nil)
  if not vim.wait(timeout, function()
    return current.exited
  end, 10) then
    current.rpc.handle:kill('sigterm')
    if not vim.wait(1000, function()
      return current.exited
    end, 10) then
      current.rpc.handle:kill('sigkill')
      vim.wait(1000, function()
        return current.exited
      end, 10)
    end
  end
  session = nil
end

return M
