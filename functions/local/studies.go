package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

const studiesUsage = `  orrery studies list [--json] [--limit N] [--home DIR]   hyperparameter studies, newest first
  orrery studies show STUDY_ID [--json] [--home DIR]      one study's status and dates
`

func init() {
	commands["studies"] = func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdStudies(ctx, args, stdout)
	}
}

// cmdStudies lists or shows the optimization studies, which live in their
// own store rather than among the jobs.
func cmdStudies(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("studies: want list or show\n%s", studiesUsage)
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("studies "+sub, flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	home := fs.String("home", "", "state directory")
	limit := fs.Int("limit", 20, "how many studies (0 = all)")
	pos, err := parseFlags(fs, rest)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) == 0:
	case sub == "show" && len(pos) == 1:
	default:
		return usagef("studies: want 'list' or 'show STUDY_ID'\n%s", studiesUsage)
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	if sub == "show" {
		s, err := rt.DB.GetStudy(ctx, pos[0])
		if err != nil {
			return fmt.Errorf("studies show %s: %w", pos[0], err)
		}
		return printStudy(stdout, s, *jsonOut)
	}
	list, err := rt.DB.ListStudies(ctx, *limit)
	if err != nil {
		return fmt.Errorf("studies list: %w", err)
	}
	if *jsonOut {
		return writeJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STUDY\tSTATUS\tNAME\tCREATED")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Status, s.Name, s.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func printStudy(w io.Writer, s store.Study, jsonOut bool) error {
	if jsonOut {
		return writeJSON(w, s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "study\t%s\nstatus\t%s\n", s.ID, s.Status)
	if s.Name != "" {
		fmt.Fprintf(tw, "name\t%s\n", s.Name)
	}
	fmt.Fprintf(tw, "created\t%s\nupdated\t%s\n", s.CreatedAt.Format(time.RFC3339), s.UpdatedAt.Format(time.RFC3339))
	return tw.Flush()
}

// studyStatus prints a study for `orrery status` when the id names no job.
func studyStatus(ctx context.Context, db store.StudyStore, id string, w io.Writer, jsonOut bool) (bool, error) {
	s, err := db.GetStudy(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("status %s: %w", id, err)
	}
	return true, printStudy(w, s, jsonOut)
}
