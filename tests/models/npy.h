// Minimal reader for the 2-D float64 .npy files of the golden fixtures.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mneme::test {

struct npy_matrix {
    std::size_t rows = 0, cols = 0;
    std::vector<double> data;
};

inline npy_matrix read_npy_f64(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    char magic[8];
    f.read(magic, 8);
    if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not a .npy file");
    uint32_t header_len = 0;
    if (magic[6] == 1) {
        uint16_t l;
        f.read(reinterpret_cast<char*>(&l), 2);
        header_len = l;
    } else {
        f.read(reinterpret_cast<char*>(&header_len), 4);
    }
    std::string header(header_len, '\0');
    f.read(header.data(), header_len);
    if (header.find("'<f8'") == std::string::npos) throw std::runtime_error(path + ": expected float64");
    if (header.find("'fortran_order': False") == std::string::npos) throw std::runtime_error(path + ": fortran order");
    const auto open = header.find("'shape': (");
    npy_matrix m;
    if (std::sscanf(header.c_str() + open, "'shape': (%zu, %zu)", &m.rows, &m.cols) != 2) {
        throw std::runtime_error(path + ": expected a 2-D shape");
    }
    m.data.resize(m.rows * m.cols);
    f.read(reinterpret_cast<char*>(m.data.data()), static_cast<std::streamsize>(m.data.size() * sizeof(double)));
    if (!f) throw std::runtime_error(path + ": truncated");
    return m;
}

}  // namespace mneme::test
