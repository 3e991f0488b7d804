-- Mai's commands. Nothing starts until one is used: the first starts `mai serve` (see
-- require('mai').setup / vim.g.mai for the command); quitting Neovim shuts it down.
if vim.g.loaded_mai then return end
vim.g.loaded_mai = true
if vim.fn.has('nvim-0.7') ~= 1 then
  vim.notify('Mai: this plugin needs Neovim 0.7 or later', vim.log.levels.ERROR)
  return
end

local command = vim.api.nvim_create_user_command
local function mai()
  return require('mai')
end

command('Mai', function(opts)
  mai().prompt(opts)
end, { nargs = '*', range = true, desc = "Ask Mai; with a range, about the selected lines. The answer streams into this tab's Mai buffer" })
command('MaiCancel', function()
  mai().cancel()
end, { nargs = 0, desc = "Cancel this tab's streaming answer" })
command('MaiModels', function()
  mai().models()
end, { nargs = 0, desc = 'List the models Mai can use' })
command('MaiStatus', function()
  mai().status()
end, { nargs = 0, desc = "Mai's model, backends and counters" })
command('MaiSwitch', function(opts)
  mai().switch(opts.args)
end, {
  nargs = 1,
  desc = 'Pin a model for every turn (auto unpins)',
  complete = function(lead)
    return mai().complete_models(lead)
  end,
})

local group = vim.api.nvim_create_augroup('mai', { clear = true })
vim.api.nvim_create_autocmd('VimLeavePre', {
  group = group,
  desc = 'Shut mai serve down (shutdown, then exit)',
  callback = function()
    if package.loaded['mai.client'] then require('mai.client').stop() end
  end,
})
vim.api.nvim_create_autocmd('TabClosed', {
  group = group,
  callback = function()
    if package.loaded['mai'] then require('mai').forget_closed_tabs() end
  end,
})
