"""What a host allows: the settings of a hosted explorer, and the check of a requested model against them."""
