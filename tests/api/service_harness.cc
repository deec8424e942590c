#include "tests/api/service_harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

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
  if (rc != CURLE_OK) throw std::runtime_error(std::string("curl: ") + curl_easy_strerror(rc) + " for " + url);
  return r;
}

static int counter = 0;

ServerProcess::ServerProcess(const fs::path& data_dir, const fs::path& config, const std::vector<std::string>& extra,
                             const std::vector<std::string>& env) {
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
