"""The REST API's request and response bodies (and so its OpenAPI schemas), by area."""
