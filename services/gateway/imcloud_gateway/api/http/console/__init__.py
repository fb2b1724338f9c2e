"""The web console: pages and assets served by the gateway, on the public REST API."""
