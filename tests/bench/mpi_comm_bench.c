/*
 * mpi_comm_bench - MPI_Barrier and MPI_Allreduce (sum of doubles) latency,
 * the Open MPI baseline of faas-comm-bench: same operations, sizes and
 * JSON. Built and run by scripts/comm-bench only where mpicc and mpirun
 * are installed (Debian: openmpi-bin libopenmpi-dev); not part of the
 * build.
 *
 *   mpirun -np N mpi_comm_bench [--repeats R] [--runs K] [SIZE...]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int sizes[16] = {8, 65536, 1048576}, nsizes = 3, repeats = 200, runs = 5, first = 1;
	int rank, np;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &np);
	while (first + 1 < argc && strncmp(argv[first], "--", 2) == 0) {
		if (strcmp(argv[first], "--repeats") == 0)
			repeats = atoi(argv[first + 1]);
		else if (strcmp(argv[first], "--runs") == 0)
			runs = atoi(argv[first + 1]);
		first += 2;
	}
	if (first < argc)
		for (nsizes = 0; first < argc && nsizes < 16; first++)
			sizes[nsizes++] = atoi(argv[first]);
	for (int i = -1; i < nsizes; i++) {
		int bytes = i < 0 ? 0 : sizes[i], n = bytes / (int)sizeof(double);
		double *a = calloc((size_t)n + 1, sizeof(double)), *b = calloc((size_t)n + 1, 8);
		double t[1000], mine, worst;

		for (int k = 0; k < runs && k < 1000; k++) {
			MPI_Barrier(MPI_COMM_WORLD);
			mine = MPI_Wtime();
			for (int r = 0; r < repeats; r++) {
				if (i < 0)
					MPI_Barrier(MPI_COMM_WORLD);
				else
					MPI_Allreduce(a, b, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
			}
			mine = MPI_Wtime() - mine;
			MPI_Reduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
			t[k] = worst;
		}
		if (rank == 0) {
			qsort(t, (size_t)runs, sizeof(double), cmp);
			printf(
			    "{\"bench\":\"comm\",\"impl\":\"openmpi\",\"ranks\":%d,\"op\":\"%s\","
			    "\"bytes\":%d,\"repeats\":%d,\"us\":%.2f}\n",
			    np, i < 0 ? "barrier" : "allreduce", bytes, repeats,
			    t[runs / 2] * 1e6 / repeats);
			fflush(stdout);
		}
		free(a);
		free(b);
	}
	MPI_Finalize();
	return 0;
}
