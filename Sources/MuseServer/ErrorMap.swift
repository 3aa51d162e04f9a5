// Every failure as the API reports it: one map from error to status and OpenAI error object.
import Foundation
import Hummingbird
import MuseCore
import MuseOpenAI

extension APIError {
    /// Seconds a client is told to wait when a model server behind this one is busy or down and
    /// did not say how long itself.
    static let upstreamRetrySeconds = 5

    /// Any error as the API reports it: request problems as 4xx, a full engine as 429, a model
    /// server behind this one as 502, 503 or 504 (never with its address), the rest as 500.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as HTTPError:
            let status = Int(error.status.code)
            let message = error.body ?? error.status.reasonPhrase
            return switch status {
            case 404: APIError(status: 404, message: "no such route", type: "invalid_request_error", code: "not_found")
            case 405: APIError(status: 405, message: "method not allowed", type: "invalid_request_error")
            case 413: .tooLarge(message)
            default: APIError(status: status, message: message, type: status < 500 ? "invalid_request_error" : "server_error")
            }
        case let error as any ClassifiedError:
            return from(error.category, message: error.publicDescription)
        case let error as ConversationStoreError:
            return switch error {
            case .notFound: APIError(status: 404, message: error.description, type: "invalid_request_error", code: "not_found")
            case .full: .invalidRequest(error.description)
            }
        case is TimeLimitExceeded:
            return APIError(status: 504, message: "the request ran past the server's time limit", type: "server_error", code: "timeout")
        case is CancellationError:
            return APIError(status: 499, message: "the request was cancelled", type: "server_error", code: "cancelled")
        default:
            return .server("\(error)")
        }
    }

    /// A model's failure by what it means. A model server's refusal of the request's content
    /// (400, 413, 422) is the client's to fix and keeps its status; its other statuses (a key it
    /// refuses, a model it lacks, its own errors) are this server's problem: 502.
    static func from(_ category: FailureCategory, message: String) -> APIError {
        switch category {
        case .invalidRequest:
            return .invalidRequest(message)
        case .busy(let seconds):
            return .overloaded(message, code: "engine_full", retryAfter: seconds)
        case .upstream(.status(let status, _)) where [400, 413, 422].contains(status):
            return APIError(status: status, message: message, type: "invalid_request_error", code: "upstream_refused")
        case .upstream(.status(429, let retryAfter)):
            return .overloaded(message, code: "upstream_busy", retryAfter: retryAfter ?? upstreamRetrySeconds)
        case .upstream(.status(503, let retryAfter)):
            return APIError(status: 503, message: message, type: "server_error", code: "upstream_unavailable",
                            retryAfter: retryAfter ?? upstreamRetrySeconds)
        case .upstream(.unreachable):
            return APIError(status: 503, message: message, type: "server_error", code: "upstream_unavailable",
                            retryAfter: upstreamRetrySeconds)
        case .upstream(.timedOut):
            return APIError(status: 504, message: message, type: "server_error", code: "upstream_timeout")
        case .upstream(.status), .upstream(.badReply):
            return APIError(status: 502, message: message, type: "server_error", code: "upstream_error")
        }
    }

    var response: Response {
        let data = (try? WireJSON.data(self)) ?? Data(#"{"error":{"message":"error","type":"server_error"}}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
