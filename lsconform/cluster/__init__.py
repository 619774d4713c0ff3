"""Kubernetes access: configuration, API calls and HTTP to pods and Services through a Transport."""
