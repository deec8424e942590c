#pragma once
// An HTTP response as a libcurl client receives it: the body up to a limit and one header's
// value. ReceiveBody and ReceiveHeader have the signature of libcurl's CURLOPT_WRITEFUNCTION and
// CURLOPT_HEADERFUNCTION (base itself does not link libcurl); give the ReceivedResponse as
// CURLOPT_WRITEDATA and CURLOPT_HEADERDATA. One ReceivedResponse per transfer; not thread-safe.
#include <cstddef>
#include <string>

namespace lk {

struct ReceivedResponse {
  size_t max_body_bytes = 0;  // a longer body aborts the transfer and sets too_large
  std::string header_name;    // the header to keep: lower case, without ':' (e.g. "etag"); "" for none
  std::string body;
  std::string header_value;  // that header's value without surrounding white space ("" if absent)
  bool too_large = false;
};

// Appends to response->body; returns 0 (libcurl then aborts the transfer) once the body would
// exceed max_body_bytes. `response` is a ReceivedResponse*.
size_t ReceiveBody(char* data, size_t size, size_t n, void* response);
// Keeps the value of a header line named header_name (case-insensitive; the last one wins).
// `response` is a ReceivedResponse*.
size_t ReceiveHeader(char* data, size_t size, size_t n, void* response);

}  // namespace lk
