"""Outbound adapters: the gateway's clients of the backend services and of Kubernetes."""
