// TeacherCache::open refuses caches a reader would misread: a question_id column of another type
// (read as raw int64 bits it gave "no response for 191 of 192 questions") and question ids beyond
// the dataset the cache was made for (issue 13).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <string>
#include <vector>

#include "ril/common/error.h"
#include "ril/io/h5_file.h"
#include "ril/io/teacher_cache.h"
#include "support/temp_dir.h"

namespace {

// A cache for a 10-question stand-in dataset, with teacher "t" holding `ids`.
std::string make_cache(const std::string& dir, const std::vector<int64_t>& ids) {
  const std::string dataset = dir + "/d.h5";
  {
    ril::io::H5File d = ril::io::H5File::create(dataset, "dataset", /*overwrite=*/true);
    d.set_attr("/", "count", int64_t{10});
  }
  const std::string path = dir + "/cache.h5";
  ril::io::TeacherCache cache = ril::io::TeacherCache::open_for_dataset(path, dataset);
  ril::io::TeacherInfo teacher;
  teacher.name = "t";
  cache.add_teacher(teacher);
  std::vector<ril::io::TeacherRow> rows;
  for (int64_t id : ids) rows.push_back({id, 0, "answer " + std::to_string(id)});
  cache.append("t", rows);
  return path;
}

// Replaces teachers/t/question_id by a float64 column with the same values (what another tool,
// e.g. pandas via h5py, writes).
void rewrite_ids_as_float64(const std::string& path, const std::vector<double>& values) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GE(H5Ldelete(file, "teachers/t/question_id", H5P_DEFAULT), 0);
  const hsize_t n = values.size();
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t dset = H5Dcreate2(file, "teachers/t/question_id", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                H5P_DEFAULT);
  ASSERT_GE(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(dset);
  H5Sclose(space);
  H5Fclose(file);
}

std::string open_error(const std::string& path, ril::io::OpenMode mode = ril::io::OpenMode::kRead) {
  try {
    ril::io::TeacherCache::open(path, mode);
  } catch (const ril::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(TeacherCacheChecks, GoodCacheOpens) {
  ril::test::TempDir dir;
  const std::string path = make_cache(dir.path(), {0, 3, 9});
  EXPECT_EQ(ril::io::TeacherCache::open(path).committed("t"), 3);
  EXPECT_NO_THROW(ril::io::TeacherCache::open(path).check_question_ids(10));
}

TEST(TeacherCacheChecks, Float64QuestionIdsAreRefusedByType) {
  ril::test::TempDir dir;
  const std::string path = make_cache(dir.path(), {0, 1, 2});
  rewrite_ids_as_float64(path, {0, 1, 2});
  for (auto mode : {ril::io::OpenMode::kRead, ril::io::OpenMode::kReadWrite}) {
    const std::string e = open_error(path, mode);
    EXPECT_NE(e.find("teacher cache '" + path + "': dataset 'teachers/t/question_id' has type float64, expected int64"),
              std::string::npos)
        << e;
  }
}

TEST(TeacherCacheChecks, QuestionIdsBeyondTheDatasetAreRefused) {
  ril::test::TempDir dir;
  const std::string path = make_cache(dir.path(), {0, 5, 191});
  const std::string e = open_error(path);
  EXPECT_NE(e.find("teacher 't': question ids up to 191, the dataset has 10 questions (ids 0..9)"), std::string::npos)
      << e;
  ril::test::TempDir other;
  const std::string negative = make_cache(other.path(), {-4, 2});
  EXPECT_NE(open_error(negative).find("question ids from -4, the dataset has 10"), std::string::npos);
}

TEST(TeacherCacheChecks, ExplicitDatasetSizeIsChecked) {
  ril::test::TempDir dir;
  const std::string path = make_cache(dir.path(), {0, 9});
  const ril::io::TeacherCache cache = ril::io::TeacherCache::open(path);
  try {
    cache.check_question_ids(5);
    ADD_FAILURE() << "no error";
  } catch (const ril::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("question ids up to 9, the dataset has 5 questions"), std::string::npos)
        << e.what();
  }
}
