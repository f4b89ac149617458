// CSV reading (nn/data/csv.h): column types, RFC 4180 quoting, line endings, missing
// values, numeric tensors, errors that name the file and line, and a mutation fuzz
// that must never crash.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/factory.h"
#include "nn/data/csv.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln::nn::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using kiln::test::error_of;
using kiln::test::ScratchDir;
namespace fs = std::filesystem;

TEST(CsvRead, ColumnTypesNamesAndValues) {
  ScratchDir dir("kiln_csv");
  std::string path = dir.write("people.csv",
                               "name,age,height,born,score\n"
                               "ann,31,1.72,2020-01-31,1e3\n"
                               "bob,27,-0.5,1999-12-01,-inf\n"
                               "cy,45,.25,2001-06-15,NaN\n");
  CsvTable t = read_csv(path);
  EXPECT_THAT(t.names(), ElementsAre("name", "age", "height", "born", "score"));
  EXPECT_EQ(t.rows(), 3);
  EXPECT_FALSE(t.is_numeric("name"));
  EXPECT_TRUE(t.is_numeric("age"));
  EXPECT_TRUE(t.is_numeric("height"));
  EXPECT_FALSE(t.is_numeric("born"));  // dates stay strings
  EXPECT_TRUE(t.is_numeric("score"));
  EXPECT_THAT(t.strings("born"), ElementsAre("2020-01-31", "1999-12-01", "2001-06-15"));
  EXPECT_THAT(t.strings("age"), ElementsAre("31", "27", "45"));

  Tensor x = t.numeric({"height", "age"}, kFloat64);
  EXPECT_EQ(x.dtype(), kFloat64);
  EXPECT_EQ(x.shape(), (Shape{3, 2}));
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{1.72, 31, -0.5, 27, 0.25, 45}));
  Tensor score = t.column("score");
  EXPECT_EQ(score.dtype(), kFloat32);
  EXPECT_EQ(score.shape(), (Shape{3}));
  std::vector<float> s = score.to_vector<float>();
  EXPECT_EQ(s[0], 1000.0f);
  EXPECT_EQ(s[1], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(s[2]));
  EXPECT_EQ(t.column("age", kInt64).to_vector<int64_t>(), (std::vector<int64_t>{31, 27, 45}));
}

TEST(CsvRead, QuotedFieldsHoldDelimitersNewlinesAndDoubledQuotes) {
  CsvTable t = read_csv_from_memory(
      "id,text\r\n"
      "1,\"a, b\"\r\n"
      "2,\"line one\r\nline two\"\r\n"
      "3,\"she said \"\"hi\"\"\"\r\n"
      "4,\"\"\r\n"
      "5,plain \"inner\" quote\r\n"
      "6,\"\"\"\"");
  EXPECT_EQ(t.rows(), 6);
  EXPECT_THAT(t.strings("text"), ElementsAre("a, b", "line one\r\nline two", "she said \"hi\"", "", "plain \"inner\" quote",
                                             "\""));
  EXPECT_EQ(t.column("id", kInt64).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  // Quoted numbers are numbers; a quoted header name works like any other.
  CsvTable q = read_csv_from_memory("\"x,y\",z\n\"1.5\",2\n");
  EXPECT_THAT(q.names(), ElementsAre("x,y", "z"));
  EXPECT_EQ(q.column("x,y", kFloat64).to_vector<double>(), std::vector<double>{1.5});
}

TEST(CsvRead, LineEndingsBomFinalNewlineAndBlankLines) {
  const std::vector<double> expected = {1, 2, 3, 4};
  for (const std::string& text : {std::string("a,b\n1,2\n3,4\n"), std::string("a,b\r\n1,2\r\n3,4"),
                                  std::string("\xEF\xBB\xBF" "a,b\n1,2\n\n3,4\n\n"), std::string("a,b\r1,2\r3,4\r")}) {
    CsvTable t = read_csv_from_memory(text);
    EXPECT_THAT(t.names(), ElementsAre("a", "b")) << text;
    EXPECT_EQ(t.numeric({"a", "b"}, kFloat64).to_vector<double>(), expected) << text;
  }
  CsvOptions keep;
  keep.skip_blank_lines = false;
  EXPECT_THAT(error_of([&] { read_csv_from_memory("a,b\n1,2\n\n3,4\n", keep); }),
              HasSubstr("read_csv: <memory>: line 3 has 1 fields, expected 2"));
  // A one-column file keeps its blank lines as missing values when asked to.
  CsvTable one = read_csv_from_memory("v\n1\n\n3\n", keep);
  std::vector<double> v = one.column("v", kFloat64).to_vector<double>();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_TRUE(std::isnan(v[1]));
}

TEST(CsvRead, MissingValuesAreNaNInNumericColumns) {
  CsvTable t = read_csv_from_memory("a,b,c,d\n1,,x,\n,NA,y,\n3, 4 ,,\n");
  EXPECT_TRUE(t.is_numeric("a"));
  EXPECT_TRUE(t.is_numeric("b"));
  EXPECT_FALSE(t.is_numeric("c"));
  EXPECT_TRUE(t.is_numeric("d"));  // all missing: numeric, all NaN (pandas: float64 NaN)
  std::vector<double> ab = t.numeric({"a", "b"}, kFloat64).to_vector<double>();
  EXPECT_EQ(ab[0], 1);
  EXPECT_TRUE(std::isnan(ab[1]));
  EXPECT_TRUE(std::isnan(ab[2]));
  EXPECT_TRUE(std::isnan(ab[3]));
  EXPECT_EQ(ab[4], 3);
  EXPECT_EQ(ab[5], 4);  // spaces around a number are fine
  EXPECT_THAT(t.strings("c"), ElementsAre("x", "y", ""));
  EXPECT_THAT(error_of([&] { t.column("a", kInt64); }),
              HasSubstr("CsvTable::numeric: <memory>: column 'a' value '' on line 3 is missing or not a whole number"));
}

TEST(CsvRead, NumberRecognition) {
  CsvTable t = read_csv_from_memory(
      "a,b,c,d,e,f,g\n"
      "+1,1e999,0x10,3kg,1.0,9007199254740993,inf\n"
      "-2.5E-3,-1e-999,1,1,2e2,-9223372036854775808,Infinity\n");
  EXPECT_TRUE(t.is_numeric("a"));
  EXPECT_TRUE(t.is_numeric("b"));
  EXPECT_FALSE(t.is_numeric("c"));  // hexadecimal is text, as in pandas
  EXPECT_FALSE(t.is_numeric("d"));
  EXPECT_EQ(t.column("a", kFloat64).to_vector<double>(), (std::vector<double>{1, -2.5e-3}));
  std::vector<double> b = t.column("b", kFloat64).to_vector<double>();
  EXPECT_EQ(b[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(b[1], 0.0);
  EXPECT_EQ(t.column("e", kInt64).to_vector<int64_t>(), (std::vector<int64_t>{1, 200}));
  // int64 columns are read from the text, exactly, even beyond 2^53.
  EXPECT_EQ(t.column("f", kInt64).to_vector<int64_t>(),
            (std::vector<int64_t>{9007199254740993LL, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(t.column("g", kFloat64).to_vector<double>(),
            (std::vector<double>(2, std::numeric_limits<double>::infinity())));
}

TEST(CsvRead, NoHeaderOtherDelimitersAndPandasStyleNames) {
  CsvOptions opts;
  opts.header = false;
  opts.delimiter = '\t';
  CsvTable t = read_csv_from_memory("1\tx\n2\ty\n", opts);
  EXPECT_THAT(t.names(), ElementsAre("0", "1"));
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.column("0", kInt64).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  CsvOptions semi;
  semi.delimiter = ';';
  CsvTable s = read_csv_from_memory("a;a;;a\n1,5;2;3;4\n", semi);
  EXPECT_THAT(s.names(), ElementsAre("a", "a.1", "Unnamed: 2", "a.2"));
  EXPECT_FALSE(s.is_numeric("a"));  // "1,5" is text with ';' as delimiter
  CsvTable empty = read_csv_from_memory("a,b\n");
  EXPECT_EQ(empty.rows(), 0);
  EXPECT_EQ(empty.numeric({"a", "b"}).shape(), (Shape{0, 2}));
  EXPECT_EQ(read_csv_from_memory("", opts).rows(), 0);
}

TEST(CsvRead, ErrorsNameTheFileAndTheLine) {
  ScratchDir dir("kiln_csv");
  std::string ragged = dir.write("ragged.csv", "a,b\n1,2\n3\n");
  EXPECT_THAT(error_of([&] { read_csv(ragged); }),
              HasSubstr("read_csv: " + ragged + ": line 3 has 1 fields, expected 2 (as the header has)"));
  std::string quote = dir.write("quote.csv", "a,b\n1,2\n3,\"open\n4,5\n");
  EXPECT_THAT(error_of([&] { read_csv(quote); }),
              HasSubstr("read_csv: " + quote + ": unterminated quoted field starting on line 3"));
  std::string after = dir.write("after.csv", "a,b\n1,\"x\"y\n");
  EXPECT_THAT(error_of([&] { read_csv(after); }),
              HasSubstr("read_csv: " + after + ": line 2: unexpected character 'y' after the closing quote"));
  std::string dates = dir.write("dates.csv", "when,v\n2,1\n3,2\n2020-01-31,3\n");
  CsvTable t = read_csv(dates);
  EXPECT_THAT(error_of([&] { t.numeric({"v", "when"}); }),
              HasSubstr("CsvTable::numeric: " + dates + ": column 'when' is not numeric: value '2020-01-31' on line 4 "
                        "is not a number"));
  EXPECT_THAT(error_of([&] { t.column("nope"); }),
              HasSubstr("CsvTable::numeric: " + dates + ": no column named 'nope' (columns: 'when', 'v')"));
  EXPECT_THAT(error_of([&] { t.strings("nope"); }), HasSubstr("CsvTable::strings: "));
  EXPECT_THAT(error_of([&] { t.is_numeric("nope"); }), HasSubstr("CsvTable::is_numeric: "));
  EXPECT_THAT(error_of([&] { t.column("v", kUInt8); }), HasSubstr("expected dtype float32, float64 or int64, got uint8"));
  EXPECT_EQ(t.column("v", kInt64).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_THAT(error_of([&] { read_csv(dir.write("empty.csv", "")); }), HasSubstr("no header line (the file is empty)"));
  EXPECT_THAT(error_of([&] { read_csv((fs::path(dates).parent_path() / "missing.csv").string()); }),
              HasSubstr("read_csv: cannot open "));
  // Lines are physical: a quoted newline counts.
  EXPECT_THAT(error_of([&] { read_csv_from_memory("a,b\n\"x\ny\",1\n2\n"); }), HasSubstr("line 4 has 1 fields"));
  CsvOptions bad;
  bad.delimiter = '"';
  EXPECT_THAT(error_of([&] { read_csv_from_memory("a", bad); }), HasSubstr("must differ"));
}

TEST(CsvFuzz, MutatedFilesParseOrThrowKilnErrors) {
  const std::string valid =
      "id,name,when,value\r\n"
      "1,\"a, \"\"b\"\"\",2020-01-31,1.5\r\n"
      "2,\"multi\nline\",2021-02-28,-inf\r\n"
      "3,plain,,\r\n"
      "4,x,2022-03-01,1e-3\r\n";
  std::mt19937_64 rng(20240613);
  auto below = [&](size_t bound) { return size_t(rng() % bound); };
  const char kSignificant[] = ",\"\r\n;\t 0e.-+x\xEF\xBB\xBF";
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 400; ++i) {
    std::string m = valid;
    switch (i % 4) {
      case 0: m[below(m.size())] = kSignificant[below(sizeof(kSignificant) - 1)]; break;
      case 1: m.resize(below(m.size())); break;
      case 2: m.erase(below(m.size()), 1 + below(4)); break;
      default: m.insert(below(m.size()), 1, kSignificant[below(sizeof(kSignificant) - 1)]); break;
    }
    CsvOptions opts;
    opts.header = i % 5 != 0;
    try {
      CsvTable t = read_csv_from_memory(m, opts);
      for (const std::string& name : t.names()) {
        EXPECT_EQ(int64_t(t.strings(name).size()), t.rows());
        if (t.is_numeric(name)) EXPECT_EQ(t.column(name, kFloat64).numel(), t.rows());
        else EXPECT_THAT(error_of([&] { t.column(name); }), HasSubstr("is not numeric"));
      }
      ++parsed;
    } catch (const Error& e) {
      EXPECT_THAT(e.message(), HasSubstr("read_csv: <memory>: ")) << "mutation " << i;
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "mutation " << i << ": threw a non-kiln exception: " << e.what();
    }
  }
  EXPECT_GT(parsed, 50);
  EXPECT_GT(rejected, 20);
}

}  // namespace
}  // namespace kiln::nn::data
