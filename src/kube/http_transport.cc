#include "kube/http_transport.h"

#include <cpprest/http_client.h>

#include <cerrno>
#include <chrono>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "kube/tls.h"

namespace hb::kube {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::client::http_client;
using web::http::client::http_client_config;

// "GET /api/v1/pods" for messages: the path without the query.
std::string What(const HttpRequest& request) {
  absl::string_view target = request.target;
  return absl::StrCat(request.method, " ", target.substr(0, target.find('?')));
}

// The status for the exception being handled (call inside a catch block only).
absl::Status CurrentExceptionStatus(const std::string& what, absl::Duration timeout) {
  try {
    throw;
  } catch (const web::http::http_exception& e) {
    int code = e.error_code().value();
    if (code == ETIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, ": no answer from the API server within ", absl::FormatDuration(timeout)));
    }
    if (code == ECANCELED) return absl::CancelledError(absl::StrCat(what, ": cancelled"));
    return absl::UnavailableError(absl::StrCat(what, ": ", e.what()));
  } catch (const pplx::task_canceled&) {
    return absl::CancelledError(absl::StrCat(what, ": cancelled"));
  } catch (const web::uri_exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": invalid URL: ", e.what()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(what, ": ", e.what()));
  } catch (...) {
    return absl::UnknownError(absl::StrCat(what, ": unknown failure"));
  }
}

std::chrono::microseconds Micros(absl::Duration d) {
  return std::chrono::microseconds(absl::ToInt64Microseconds(d));
}

std::string Header(const http_response& response, const char* name) {
  auto it = response.headers().find(name);
  return it == response.headers().end() ? std::string() : it->second;
}

http_request BuildMessage(const HttpRequest& request, const std::string& user_agent) {
  http_request message(request.method);
  message.set_request_uri(web::uri(request.target));
  message.headers().add("Accept", "application/json");
  message.headers().add("User-Agent", user_agent);
  if (!request.authorization.empty()) {
    message.headers().add("Authorization", request.authorization);
  }
  if (!request.content_type.empty()) message.set_body(request.body, request.content_type);
  return message;
}

// on_data(piece); an exception thrown by the caller's code becomes an error instead of
// being mistaken for a transport failure.
absl::Status Deliver(const HttpTransport::DataHandler& on_data, absl::string_view piece,
                     const std::string& what) {
  try {
    return on_data(piece);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": the data handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, ": the data handler threw"));
  }
}

// What one Send() fills in on a cpprestsdk thread; read after `done`.
struct SendState {
  absl::Notification done;
  HttpResponse response;
  absl::Status error;
};

}  // namespace

struct HttpTransport::Impl {
  web::uri base;
  TransportOptions options;
  TlsMaterial tls;
  bool https = false;
  bool verify = true;
  std::unique_ptr<http_client> pool;  // shared by Send(); thread-safe

  http_client_config Config(absl::Duration timeout) const {
    http_client_config config;
    config.set_timeout(Micros(timeout));
    config.set_validate_certificates(verify);
    if (https) {
      TlsMaterial material = tls;
      config.set_ssl_context_callback([material](boost::asio::ssl::context& ctx) {
        // Validated in Create(); a failure here shows as a failed handshake.
        (void)ConfigureTls(ctx.native_handle(), material);
      });
    }
    return config;
  }
};

absl::StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(const KubeConfig& config,
                                                                     TransportOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->tls = TlsMaterial{config.ca_pem, config.client_cert_pem, config.client_key_pem};
  impl->verify = !config.insecure_skip_tls_verify;
  std::string server = absl::AsciiStrToLower(config.server);
  impl->https = absl::StartsWith(server, "https://");
  if (!impl->https && !absl::StartsWith(server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("API server URL \"", config.server, "\" must start with https://"));
  }
  if (impl->https) {
    if (absl::Status s = ValidateTls(impl->tls); !s.ok()) return s;
  }
  try {
    impl->base = web::uri(config.server);
    impl->pool = std::make_unique<http_client>(impl->base, impl->Config(impl->options.timeout));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("API server URL \"", config.server, "\" is not valid: ", e.what()));
  }
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
}

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;

absl::StatusOr<HttpResponse> HttpTransport::Send(const HttpRequest& request,
                                                 absl::Duration deadline) {
  const std::string what = What(request);
  auto state = std::make_shared<SendState>();
  pplx::cancellation_token_source cancel;
  try {
    impl_->pool->request(BuildMessage(request, impl_->options.user_agent), cancel.get_token())
        .then([state](http_response response) {
          state->response.status = response.status_code();
          state->response.retry_after = Header(response, "Retry-After");
          return response.extract_vector();
        })
        .then([state, what, deadline](pplx::task<std::vector<unsigned char>> body) {
          try {
            std::vector<unsigned char> bytes = body.get();
            state->response.body.assign(bytes.begin(), bytes.end());
          } catch (...) {
            state->error = CurrentExceptionStatus(what, deadline);
          }
          state->done.Notify();
        });
  } catch (...) {
    return CurrentExceptionStatus(what, deadline);
  }
  if (!state->done.WaitForNotificationWithTimeout(deadline)) {
    cancel.cancel();  // the continuation still runs, on `state` which it co-owns
    return absl::DeadlineExceededError(absl::StrCat(what, ": no answer from the API server within ",
                                                    absl::FormatDuration(deadline)));
  }
  if (!state->error.ok()) return state->error;
  return std::move(state->response);
}

absl::StatusOr<HttpResponse> HttpTransport::Stream(const HttpRequest& request,
                                                   absl::Duration idle_timeout,
                                                   const CancelToken& cancel,
                                                   const DataHandler& on_data) {
  const std::string what = What(request);
  pplx::cancellation_token_source abort;
  auto registration = cancel.OnCancel([abort]() { abort.cancel(); });
  HttpResponse result;
  try {
    // A client of its own: the timeout is the watch's, and the connection is not pooled.
    http_client client(impl_->base, impl_->Config(idle_timeout));
    http_response response =
        client.request(BuildMessage(request, impl_->options.user_agent), abort.get_token()).get();
    result.status = response.status_code();
    result.retry_after = Header(response, "Retry-After");
    if (result.status < 200 || result.status > 299) {
      std::vector<unsigned char> bytes = response.extract_vector().get();
      result.body.assign(bytes.begin(), bytes.end());
      return result;
    }
    // The body's producer/consumer buffer satisfies a read of N bytes only once N bytes are
    // there, so wait for one byte and then take whatever else has already arrived.
    auto body = response.body().streambuf();
    std::string piece;
    while (true) {
      auto c = body.bumpc().get();
      if (c == concurrency::streams::streambuf<uint8_t>::traits::eof()) break;
      piece.assign(1, static_cast<char>(c));
      size_t available = body.in_avail();
      if (available > 0) {
        piece.resize(1 + available);
        size_t got = body.getn(reinterpret_cast<uint8_t*>(piece.data()) + 1, available).get();
        piece.resize(1 + got);
      }
      if (absl::Status s = Deliver(on_data, piece, what); !s.ok()) {
        abort.cancel();
        return s;
      }
    }
    response.content_ready().get();  // throws when the body ended by an error
  } catch (...) {
    if (cancel.IsCancelled()) return absl::CancelledError(absl::StrCat(what, ": cancelled"));
    return CurrentExceptionStatus(what, idle_timeout);
  }
  if (cancel.IsCancelled()) return absl::CancelledError(absl::StrCat(what, ": cancelled"));
  return result;
}

constexpr char kHexDigits[] = "0123456789ABCDEF";

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  auto encode = [](absl::string_view text) {
    std::string out;
    for (char c : text) {
      unsigned char u = static_cast<unsigned char>(c);
      if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(c);
      } else {
        out.push_back('%');
        out.push_back(kHexDigits[u >> 4]);
        out.push_back(kHexDigits[u & 0xF]);
      }
    }
    return out;
  };
  std::string query;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    absl::StrAppend(&query, query.empty() ? "?" : "&", encode(key), "=", encode(value));
  }
  return query;
}

}  // namespace hb::kube
