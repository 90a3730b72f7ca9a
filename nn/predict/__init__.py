"""Your own digit images: find the digit on a page (page), make it MNIST-like (preprocess), classify (cli);
an image given as a pipe is read whole within a deadline (pipes).

The command: `nn-predict MODEL IMAGE...` or `python -m nn.predict MODEL IMAGE...` (nn.predict.cli).
"""
