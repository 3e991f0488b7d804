-- Runs one scenario inside a headless Neovim (test/editor-nvim.test.ts): the scenario drives the
-- plugin's commands, records what it sees, and this writes the record as JSON, then quits with
-- :qa! (so VimLeavePre shuts mai serve down the way it does for a user). A failing scenario is
-- recorded with its traceback, never left hanging.
local t = { record = {}, notes = {} }

-- Every vim.notify the plugin makes (its messages to the user).
vim.notify = function(message, level)
  table.insert(t.notes, { message = message, level = level })
end

function t.set(key, value)
  t.record[key] = value
end

--- Writes `value` to `file` at once, for the test to read while Neovim still runs: written beside it and
--- renamed, so a test that sees the file there reads it whole (writefile creates it, then writes: a reader
--- between the two found it empty on a loaded machine).
function t.tell(file, value)
  vim.fn.writefile({ vim.json.encode(value) }, file .. '.part')
  assert(os.rename(file .. '.part', file))
end

--- Waits (running the event loop) until `check()` holds; fails the scenario otherwise.
function t.wait(check, what, timeout)
  if not vim.wait(timeout or 30000, check, 10) then error('timed out waiting for ' .. what, 2) end
end

--- This tab's Mai buffer: its state and model (status line variables) and the current answer.
function t.view()
  local conversation = require('mai').conversation()
  local buf = conversation.buf
  local turn = conversation.turn
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local statusline = ''
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == buf then
      statusline = vim.api.nvim_eval_statusline(vim.wo[win].statusline, { winid = win }).str
    end
  end
  return {
    state = vim.b[buf].mai_state,
    model = vim.b[buf].mai_model,
    lines = lines,
    statusline = statusline,
    conversation = conversation.id,
    streaming = turn ~= nil,
  }
end

--- The text after the last prompt line ("> …") and its blank line: the latest answer as shown.
function t.answer()
  local lines = t.view().lines
  local last = 0
  for i, line in ipairs(lines) do
    if line:sub(1, 2) == '> ' then last = i end
  end
  return table.concat(vim.list_slice(lines, last + 2), '\n')
end

--- Waits for the tab's turn to end and returns its final state.
function t.settle(what)
  t.wait(function()
    local state = t.view().state
    return state == 'done' or state == 'failed' or state == 'cancelled'
  end, what or 'the answer to end')
  return t.view().state
end

--- Runs `scenario`, writes the record to `file`, and quits.
function t.run(file, scenario)
  local ok, err = xpcall(scenario, debug.traceback)
  if not ok then t.record.error = err end
  t.record.notes = t.notes
  t.record.pid = t.record.pid or require('mai').pid()
  vim.fn.writefile({ vim.json.encode(t.record) }, file)
  vim.cmd('qa!')
end

return t
