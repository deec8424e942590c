#pragma once
// The fixture of the service's scenario tests: a data directory with a roster of six teachers
// (T1..T6) and their claim codes, a staff token and a partner key, and the real
// `lerarenkaart serve` started on demand on 127.0.0.1:0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/base.h"
#include "tests/api/service_harness.h"
#include "tests/testing/testing.h"

namespace lk::api::testing {

inline constexpr const char* kRosterHeader =
    "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}
inline nlohmann::json Json(const HttpResponse& r) { return nlohmann::json::parse(r.body); }
// A problem body: the right media type and the members RFC 9457 asks for.
inline nlohmann::json Problem(const HttpResponse& r, long status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_THAT(r.header("content-type"), ::testing::StartsWith("application/problem+json"));
  nlohmann::json p = nlohmann::json::parse(r.body, nullptr, false);
  EXPECT_TRUE(p.is_object()) << r.body;
  if (!p.is_object()) return nlohmann::json::object();
  EXPECT_EQ(p.value("status", 0), status);
  EXPECT_TRUE(p.contains("type") && p.contains("title") && p.contains("detail")) << r.body;
  return p;
}

inline int CurrentYear() { return int(BrusselsDate(SystemClock().Now()).year()); }

class ServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    year_ = CurrentYear();
    data_ = dir_.path() / "var";
    config_ = WriteConfig("config.toml", "");
    std::string roster = kRosterHeader;
    for (int i = 1; i <= 6; ++i)
      roster += "T" + std::to_string(i) + ",Voornaam" + std::to_string(i) +
                ",Achternaam,teaching,GO,basic,1234" + std::to_string(i) + ",2000,no\n";
    lk::testing::WriteText(dir_ / "roster.csv", roster);
    auto imp = Cli({"import", "roster", (dir_ / "roster.csv").string(), "--year", std::to_string(year_),
                    "--claim-codes", (dir_ / "codes.csv").string()});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    std::istringstream codes(ReadAll(dir_ / "codes.csv"));
    std::string line;
    std::getline(codes, line);
    ASSERT_EQ(Trim(line), "staff_id,claim_code");
    while (std::getline(codes, line)) {
      line = Trim(line);
      auto comma = line.find(',');
      codes_[line.substr(0, comma)] = line.substr(comma + 1);
    }
    ASSERT_EQ(codes_.size(), 6u);
    auto staff = Cli({"staff", "add", "reporting"});
    ASSERT_EQ(staff.exit_code, 0) << staff.err;
    staff_ = Trim(staff.out);
    auto partner = Cli({"partners", "add", "Museum M"});
    ASSERT_EQ(partner.exit_code, 0) << partner.err;
    partner_ = Trim(partner.out);
  }

  std::filesystem::path WriteConfig(const std::string& name, const std::string& server_extra,
                                    const std::string& threads = "threads = 16") {
    lk::testing::WriteText(dir_ / name, "[server]\n" + threads +
                                            "\nrate_per_address = 10000\nburst_per_address = 10000\n"
                                            "max_json_bytes = 4096\nmax_import_bytes = 2000000\n" +
                                            server_extra +
                                            "\n[google]\nissuer_id = \"3388000000012345678\"\n");
    return dir_ / name;
  }
  lk::testing::RunResult Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {lk::testing::Binary(), "--data-dir", data_.string(), "--config",
                                     config_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return lk::testing::RunProgram(argv);
  }
  ServerProcess& Server() {
    if (!server_) server_ = std::make_unique<ServerProcess>(data_, config_);
    return *server_;
  }
  std::vector<std::string> StaffAuth() const {
    return {"Authorization: Bearer " + staff_, "Content-Type: application/json"};
  }
  std::vector<std::string> PartnerAuth() const {
    return {"Authorization: Bearer " + partner_, "Content-Type: application/json"};
  }
  nlohmann::json Claim(const std::string& staff_id, long want = 201) {
    auto r =
        Http("POST", Server().url("/v1/claims"), nlohmann::json{{"claim_code", codes_.at(staff_id)}}.dump(),
             {"Content-Type: application/json"});
    EXPECT_EQ(r.status, want) << r.body;
    return Json(r);
  }
  nlohmann::json Verify(const std::string& token) {
    auto r = Http("POST", Server().url("/v1/verify"), nlohmann::json{{"token", token}}.dump(), PartnerAuth());
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r);
  }
  // Runs Python with PyJWT (Debian's python3-jwt) on a script; returns stdout.
  std::string Python(const std::string& script, const std::vector<std::string>& args) {
    lk::testing::WriteText(dir_ / "script.py", script);
    std::vector<std::string> argv = {"/usr/bin/python3", (dir_ / "script.py").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = lk::testing::RunProgram(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  lk::testing::TempDir dir_;
  std::filesystem::path data_, config_;
  int year_ = 0;
  std::map<std::string, std::string> codes_;
  std::string staff_, partner_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace lk::api::testing
