"""The market's domain, below the API and the tasks and above the store and the chain: an order's
state (order_state.py), the price index (price_index.py), and the parameters its query templates are
built over (templates.py). It imports neither backend.api nor backend.tasks."""
