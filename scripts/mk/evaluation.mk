# Evaluation: the cross-validation speed-up benchmark.
.PHONY: bench-cv

bench-cv: ## 5-fold CV of the default MLP on HTRU2 with 1 worker and with one per core; prints the speed-up
	@$(GO) test -run '^$$' -bench 'BenchmarkCrossValidateHTRU2' -benchtime 1x -count 1 ./shared/embedded/ | tee /tmp/orrery-bench-cv.txt
	@awk -v cores=$$(nproc) '/workers=/ { n++; split($$1, a, "workers="); w[n]=a[2]+0; t[n]=$$3; for (i=4; i<NF; i++) if ($$(i+1)=="cores_busy") busy[n]=$$i } \
	  END { if (n == 2) printf "5-fold CV speed-up with %d workers over 1 on %d cores: %.2fx (%.1f s -> %.1f s; cores busy %.2f -> %.2f)\n", w[2], cores, t[1]/t[2], t[1]/1e9, t[2]/1e9, busy[1], busy[2] }' /tmp/orrery-bench-cv.txt
