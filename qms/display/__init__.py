"""The hall display app: what a display may see (`audience`), the day's calls it is
owed after a reconnect (`history`), and its voice packs (`voice_pack`). Its page is
static/display.html with static/js/display.js; docs/apps.md and docs/protocol.md."""
