"""MNIST, the data: mirrors with deadlines (http, download), the IDX format (idx), arrays (data)."""
