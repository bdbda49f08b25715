#include "common/config.h"
namespace tessera {
std::string Config::run_dir() const { return experiment.output_dir + "/" + experiment.name; }
}  // namespace tessera
