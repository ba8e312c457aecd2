"""One module per emulated SP-API, as moto keeps its services: each declares its ROUTES (method, path pattern,
operation) and the handlers that read a request and answer from the backends."""
