"""Shared by the Python suites (openai-client, web-chat, channels): pytest loads this file first and
puts this folder on the import path, so that `processes` is importable from every suite."""
