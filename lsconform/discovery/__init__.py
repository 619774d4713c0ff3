"""Finding the LangSmith Helm release in a namespace and building its inventory."""
