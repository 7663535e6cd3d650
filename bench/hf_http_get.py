"""huggingface_hub's own downloader (`file_download.http_get`, what `hf download`
runs for each file) fetching one plain URL into a file: the reference client fed
by any HTTP server, for bench/serve.sh.  Usage: hf_http_get.py URL FILE"""
import sys

from huggingface_hub.file_download import http_get

with open(sys.argv[2], "wb") as f:
    http_get(sys.argv[1], f)
