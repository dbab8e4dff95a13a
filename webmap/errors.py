"""One error shape for the API: ``{"error": {"code": ..., "message": ...}}`` with a fitting status."""

from __future__ import annotations

from flask import Flask
from flask import jsonify
from werkzeug.exceptions import HTTPException

from complaints.errors import ComplaintsError
from geo.errors import GeoError
from geo.errors import RowErrors
from webmap.grid_service import ImportRefused
from webmap.grid_service import ServiceError


class ApiError(Exception):
    """An error raised by a view, rendered as JSON."""

    def __init__(self, message: str, *, code: str = "bad_request", status: int = 400,
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.details = message, code, status, details


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if details:
        body.update(details)
    return {"error": body}


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status

    @app.errorhandler(ImportRefused)
    def _refused(exc: ImportRefused):
        return jsonify(error_body(exc.code, "import refused, nothing stored",
                                  {"report": exc.report.to_dict()})), exc.status

    @app.errorhandler(ServiceError)
    def _service(exc: ServiceError):
        return jsonify(error_body(exc.code, exc.message)), exc.status

    @app.errorhandler(RowErrors)
    def _rows(exc: RowErrors):
        rows = [{"row": e.row, "field": e.field, "message": e.message} for e in exc.errors]
        return jsonify(error_body(exc.code, exc.message.splitlines()[0], {"rows": rows})), 422

    @app.errorhandler(ComplaintsError)
    def _complaints(exc: ComplaintsError):
        # a refused workflow action, an unknown category, a year without a holiday schedule:
        # the request was understood but cannot be carried out as asked
        return jsonify(error_body(exc.code, exc.message)), 422

    @app.errorhandler(GeoError)
    def _geo(exc: GeoError):
        return jsonify(error_body(exc.code, exc.message)), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return jsonify(error_body(exc.name.lower().replace(" ", "_"), exc.description)), exc.code
