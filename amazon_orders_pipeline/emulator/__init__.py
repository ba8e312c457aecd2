"""The local SP-API emulator: the default, credential-free source of orders (server.py's Emulator)."""
