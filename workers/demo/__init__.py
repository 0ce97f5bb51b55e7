"""The demo domain (synthetic support tickets) and its locally built teacher and student."""
