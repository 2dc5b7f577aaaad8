/* The peer for bench_collectives.py: MPI_Allreduce called directly from C on float32 buffers.
 * Usage: mpirun -n N allreduce_mpi REPEATS BYTES...   Prints "bytes seconds_per_call" on rank 0, where the
 * time is the median over REPEATS of (the slowest rank's time for a batch of calls) / batch size. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int repeats = atoi(argv[1]);
  double* samples = malloc(sizeof(double) * repeats);
  for (int a = 2; a < argc; ++a) {
    long bytes = atol(argv[a]);
    int n = (int)(bytes / 4);
    float* buf = malloc(bytes);
    for (int i = 0; i < n; ++i) buf[i] = 1.0f;
    int batch = bytes <= 4096 ? 1000 : bytes <= (1 << 20) ? 20 : 3;
    for (int w = 0; w < 3; ++w) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int r = 0; r < repeats; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      for (int b = 0; b < batch; ++b) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      double dt = (MPI_Wtime() - t0) / batch, slowest;
      MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      samples[r] = slowest;
    }
    qsort(samples, repeats, sizeof(double), cmp);
    if (rank == 0) printf("%ld %.9g\n", bytes, samples[repeats / 2]);
    free(buf);
  }
  free(samples);
  MPI_Finalize();
  return 0;
}
