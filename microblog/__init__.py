"""Code that every service of the microblog shares: settings, errors, request
parsing, identity from the gateway, store clients and the upstream balancer."""
