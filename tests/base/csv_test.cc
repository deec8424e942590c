#include "base/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lk {
namespace {

TEST(CsvTest, DetectsSemicolonsAndKeepsQuotedDelimiters) {
  std::vector<CsvProblem> p;
  auto t = ParseCsv("a;b\n\"x;y\";\"he said \"\"hi\"\"\"\n", p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(t.delimiter, ';');
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.records[0].fields, (std::vector<std::string>{"x;y", "he said \"hi\""}));
}

TEST(CsvTest, LineNumbersCountEmbeddedLineBreaksAndBlankLines) {
  std::vector<CsvProblem> p;
  auto t = ParseCsv(
      "\xEF\xBB\xBF"
      "A,B\r\n\"1\n2\",3\r\n\r\n4,5",
      p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[0].line, 2);
  EXPECT_EQ(t.records[0].fields[0], "1\n2");
  EXPECT_EQ(t.records[1].line, 5);
}

TEST(CsvTest, ReportsInvalidUtf8AndStrayQuotes) {
  std::vector<CsvProblem> p;
  auto t = ParseCsv("a,b\nok,\xC3\x28\n\"x\"y,1\nfine,2\n", p);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].line, 2);
  EXPECT_EQ(p[0].column, 2);
  EXPECT_EQ(p[0].what, "not valid UTF-8");
  EXPECT_EQ(p[1].line, 3);
  EXPECT_EQ(p[1].what, "unexpected character after a closing quote");
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.records[0].line, 4);
}

// The delimiter is the one that splits the header into more fields, read as the parser reads it.
// A quote inside an unquoted field is a plain character (detection used to take it for an opening
// quote and read on into the rows, found by tests/fuzz/csv_import_fuzz.cc), and blank lines
// before the header do not hide it.
TEST(CsvTest, DelimiterComesFromTheHeaderAsTheParserReadsIt) {
  std::vector<CsvProblem> p;
  auto stray = ParseCsv("ab\"x\nT1,An;b\n1;\"x;y\";3\n", p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(stray.delimiter, ',');
  EXPECT_EQ(stray.header, (std::vector<std::string>{"ab\"x"}));
  ASSERT_EQ(stray.records.size(), 2u);
  EXPECT_EQ(stray.records[0].fields, (std::vector<std::string>{"T1", "An;b"}));
  auto blank_first = ParseCsv("\n  \na;b\n1;2\n", p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(blank_first.delimiter, ';');
  EXPECT_EQ(blank_first.header, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(blank_first.records.size(), 1u);
  EXPECT_EQ(blank_first.records[0].line, 4);
}

// One line of a file read line by line (the pass batch command): the same quoting as ParseCsv.
TEST(CsvLineTest, SplitsQuotedFieldsAndNamesTheFaultyField) {
  auto ok = ParseCsvLine(R"(7KQ2M9XH4TRB,2026,"Peeters, An","School ""De Linde""")");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_THAT(*ok, ::testing::ElementsAre("7KQ2M9XH4TRB", "2026", "Peeters, An", "School \"De Linde\""));
  EXPECT_THAT(*ParseCsvLine("a;b", ';'), ::testing::ElementsAre("a", "b"));
  EXPECT_THAT(*ParseCsvLine(""), ::testing::ElementsAre(""));
  auto open = ParseCsvLine(R"(a,"b)");
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().code, Code::kInvalidArgument);
  EXPECT_EQ(open.error().message, "field 2: quoted field is never closed (fields cannot span lines)");
  auto after = ParseCsvLine(R"("a"x,b)");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().message, "field 1: unexpected character after a closing quote");
  auto utf8 = ParseCsvLine("a,\xff");
  ASSERT_FALSE(utf8);
  EXPECT_EQ(utf8.error().message, "field 2: not valid UTF-8");
  EXPECT_FALSE(ParseCsvLine("a\nb"));
}

}  // namespace
}  // namespace lk
