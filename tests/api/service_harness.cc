#include "tests/api/service_harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/testing/testing.h"

namespace lk::api::testing {
namespace fs = std::filesystem;

namespace {
size_t WriteBody(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}
size_t WriteHeader(char* p, size_t size, size_t n, void* out) {
  std::string line(p, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int WireResponse::status() const {
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) return 0;
  return std::atoi(status_line.substr(9, 3).c_str());
}

std::string WireResponse::header(const std::string& name) const {
  for (auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

RawConnection::RawConnection(int port, int timeout_ms) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::Send(const std::string& bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

WireResponse RawConnection::Read(bool head) {
  for (;;) {
    size_t end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      WireResponse r;
      std::istringstream lines(buffer_.substr(0, end));
      std::getline(lines, r.status_line);
      if (!r.status_line.empty() && r.status_line.back() == '\r') r.status_line.pop_back();
      size_t length = 0;
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = Lower(line.substr(0, colon)), value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (name == "content-length") length = std::stoul(value);
        r.headers.emplace_back(name, value);
      }
      if (head || r.status() == 100 || r.status() == 304) length = 0;
      if (buffer_.size() >= end + 4 + length) {
        r.body = buffer_.substr(end + 4, length);
        buffer_.erase(0, end + 4 + length);
        return r;
      }
    }
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return {};
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::string RawConnection::ReadResponse() {
  for (;;) {
    size_t head = buffer_.find("\r\n\r\n");
    if (head != std::string::npos) {
      std::string lower = Lower(buffer_.substr(0, head));
      size_t cl = lower.find("content-length: ");
      size_t length = cl < head ? std::stoul(buffer_.substr(cl + 16)) : 0;
      if (buffer_.size() >= head + 4 + length) {
        std::string response = buffer_.substr(0, head + 4 + length);
        buffer_.erase(0, head + 4 + length);
        return response;
      }
    }
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return "";
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

bool RawConnection::WaitClosed() {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

bool RawConnection::ClosedByPeer() {
  char c;
  ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

std::vector<WireResponse> Exchange(int port, const std::string& request, size_t count, bool head) {
  RawConnection c(port);
  std::vector<WireResponse> out;
  if (!c.connected() || !c.Send(request)) return out;
  while (out.size() < count) {
    WireResponse r = c.Read(head);
    if (r.status_line.empty()) break;
    out.push_back(std::move(r));
  }
  return out;
}

HttpResponse Http(const std::string& method, const std::string& url, const std::string& body,
                  const std::vector<std::string>& headers) {
  CURL* curl = curl_easy_init();
  HttpResponse r;
  curl_slist* list = nullptr;
  for (auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK)
    throw std::runtime_error(std::string("curl: ") + curl_easy_strerror(rc) + " for " + url);
  return r;
}

static int counter = 0;

ServerProcess::ServerProcess(const fs::path& data_dir, const fs::path& config,
                             const std::vector<std::string>& extra, const std::vector<std::string>& env) {
  int n = ++counter;
  fs::path port_file = data_dir / ("port-" + std::to_string(n));
  log_ = data_dir / ("serve-" + std::to_string(n) + ".log");
  out_ = data_dir / ("serve-" + std::to_string(n) + ".out");
  std::vector<std::string> argv = {lk::testing::Binary(), "--data-dir", data_dir.string()};
  if (!config.empty()) argv.insert(argv.end(), {"--config", config.string()});
  argv.insert(argv.end(), {"serve", "--dev", "--listen", "127.0.0.1:0", "--port-file", port_file.string()});
  argv.insert(argv.end(), extra.begin(), extra.end());
  pid_ = fork();
  if (pid_ == 0) {
    int err = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err, 2);
    dup2(out, 1);
    for (auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  for (int i = 0; i < 600; ++i) {
    std::ifstream in(port_file);
    if (in >> port_ && port_ > 0) return;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("serve exited early: " + ReadAll(log_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("serve did not write its port: " + ReadAll(log_));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Terminate();
}

int ServerProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ServerProcess::Log() const { return ReadAll(log_); }
std::string ServerProcess::Stdout() const { return ReadAll(out_); }

}  // namespace lk::api::testing
