"""Entry point for WSGI servers and ``python app.py``: builds the app and, run directly, serves it."""

from webmap import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5000)
