# Writes raster.h5, the HDF5 fixture of crbm's loader tests, with h5py (libhdf5).
# Raster: 40 frames × 7 neurons, v[t, i] = 1 iff (3t + 5i) % 4 == 0; coordinates
# xyz[i] = (1.5 i, 3 i, 4.5 i) µm.
import h5py
import numpy as np

t, n = 40, 7
v = np.array([[(3 * f + 5 * i) % 4 == 0 for i in range(n)] for f in range(t)], dtype=np.uint8)
xyz = np.array([[1.5 * i, 3.0 * i, 4.5 * i] for i in range(n)])
with h5py.File("raster.h5", "w") as f:
    f.create_dataset("spikes", data=v)  # contiguous uint8
    g = f.create_group("fish1")
    g.create_dataset("spikes", data=v.astype(bool), compression="gzip", chunks=(8, 7))
    g.create_dataset("spikes_f32", data=v.astype(np.float32), compression="gzip", shuffle=True, chunks=(6, 3))
    g.create_dataset("spikes_i64", data=v.astype(np.int64), chunks=(16, 4))
    g.create_dataset("coords", data=xyz)
    g.create_dataset("coords_t", data=xyz.T)
    g.create_dataset("nonbinary", data=v * 2)
    g.create_dataset("label", data="tectum")
