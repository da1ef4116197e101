"""Identity keys and X.509 (service CA, endorsed node certificates), ids."""
