"""The counter console's own server side: the officer's commands on a counter
(`commands`) and who may press what there (`guard`). The page is
static/console.html; the routes are served by `qms.server.api_commands`."""
