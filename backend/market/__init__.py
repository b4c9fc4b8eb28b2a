"""The market's domain, below the API and the tasks and above the store and the chain: the checks a
posted order passes (order_checks.py, signatures.py), the book's writes and reads (orders.py), an
order's state (order_state.py) and the price index (price_index.py). It imports neither backend.api
nor backend.tasks; it raises its own errors (errors.py), which the API answers as HTTP errors."""
