"""One forward pass of one text with every stage recorded, and its export."""
