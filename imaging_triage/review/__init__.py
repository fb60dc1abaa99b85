"""Review: clinical vocabulary, the review store and exports."""
