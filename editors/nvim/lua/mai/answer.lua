-- The scratch buffer a tab's conversation is shown in: each prompt, then its answer as it streams.
-- Only the latest answer is ever rewritten (a `restart` clears it); the model answering and the
-- turn's state are buffer variables (b:mai_model, b:mai_state) shown in the window's status line.
local M = {}

local api = vim.api

-- The window's status line shows b:mai_statusline (%{} is evaluated in that window and buffer).
M.statusline = "%{get(b:,'mai_statusline','Mai')}%=%{get(b:,'mai_conversation','')}"

local function set_statusline(win)
  api.nvim_win_call(win, function()
    vim.opt_local.statusline = M.statusline
  end)
end

local function edit(buf, fn)
  vim.bo[buf].modifiable = true
  fn()
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
end

--- A new scratch buffer for the conversation of tab `tab`.
function M.create(tab)
  local buf = api.nvim_create_buf(false, true)
  pcall(api.nvim_buf_set_name, buf, ('mai://tab-%d'):format(tab))
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modifiable = false
  api.nvim_create_autocmd('BufWinEnter', {
    buffer = buf,
    callback = function()
      set_statusline(api.nvim_get_current_win())
    end,
  })
  return buf
end

--- The window of the current tab that shows `buf`, opened (without taking the cursor) if none does.
function M.show(buf, split)
  for _, win in ipairs(api.nvim_tabpage_list_wins(0)) do
    if api.nvim_win_get_buf(win) == buf then return win end
  end
  local from = api.nvim_get_current_win()
  vim.cmd(split)
  local win = api.nvim_get_current_win()
  api.nvim_win_set_buf(win, buf)
  set_statusline(win)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  if api.nvim_win_is_valid(from) then api.nvim_set_current_win(from) end
  return win
end

local function follow(buf)
  local last = api.nvim_buf_line_count(buf)
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_buf(win) == buf then pcall(api.nvim_win_set_cursor, win, { last, 0 }) end
  end
end

--- Writes the prompt and returns the line (0-based) where its answer starts.
function M.begin(buf, prompt_lines)
  local start
  edit(buf, function()
    local count = api.nvim_buf_line_count(buf)
    local empty = count == 1 and api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ''
    local lines = {}
    if not empty then table.insert(lines, '') end
    for _, line in ipairs(prompt_lines) do table.insert(lines, '> ' .. line) end
    table.insert(lines, '')
    table.insert(lines, '')
    api.nvim_buf_set_lines(buf, empty and 0 or count, -1, false, lines)
    start = api.nvim_buf_line_count(buf) - 1
  end)
  follow(buf)
  return start
end

--- Appends streamed text at the end of the answer.
function M.append(buf, text)
  if not api.nvim_buf_is_valid(buf) then return end -- wiped while the answer streamed
  local pieces = vim.split(text, '\n', true)
  edit(buf, function()
    local last = api.nvim_buf_line_count(buf)
    local tail = api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
    pieces[1] = tail .. pieces[1]
    api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
  end)
  follow(buf)
end

--- Replaces the answer that starts at line `start` with `text` ('' clears it: a restart).
function M.replace(buf, start, text)
  if not api.nvim_buf_is_valid(buf) then return end
  edit(buf, function()
    api.nvim_buf_set_lines(buf, start, -1, false, vim.split(text, '\n', true))
  end)
  follow(buf)
end

--- Sets what the status line shows: the model answering, the turn's state, the conversation.
function M.status(buf, fields)
  if not api.nvim_buf_is_valid(buf) then return end
  for key, value in pairs(fields) do
    vim.b[buf]['mai_' .. key] = value
  end
  local parts = { 'Mai' }
  for _, key in ipairs({ 'model', 'state' }) do
    local value = vim.b[buf]['mai_' .. key]
    if value and value ~= '' then table.insert(parts, value) end
  end
  vim.b[buf].mai_statusline = table.concat(parts, ' · ')
  vim.cmd('redrawstatus!')
end

return M
