"""What every page shares: the reader's language, the page shell, errors, pagination."""
