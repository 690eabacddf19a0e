"""The demo server (`serve.py`): a drawing page and an HTTP API on the pipeline's model.

cli (the command line: loads the model, binds, runs uvicorn), app (the Starlette routes), uploads
(multipart requests within limits), classify (predict.py's preparation on uploads, batched model
calls), model_card (which model answers), client (starts a server and talks to it: tests, benchmark),
static/ (the page: index.html, demo.js, demo.css).
"""
