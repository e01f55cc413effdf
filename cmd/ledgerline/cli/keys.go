package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os/user"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/migrations"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/postgres"
)

func keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys (talks to the database directly)"}
	var (
		roles []string
		name  string
	)
	create := &cobra.Command{
		Use:   "create --role R --name N",
		Short: "Create an API key and print it, alone on stdout (it is shown only once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rs []auth.Role
			for _, r := range roles {
				role, err := auth.ParseRole(r)
				if err != nil {
					return err
				}
				rs = append(rs, role)
			}
			return withKeys(cmd, func(ctx context.Context, k *auth.Keys) error {
				secret, _, err := k.Create(ctx, name, rs, cliActor())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				return nil
			})
		},
	}
	create.Flags().StringSliceVar(&roles, "role", nil, "role of the key: source, rule-author, compliance, operator, auditor, admin (repeatable)")
	create.Flags().StringVar(&name, "name", "", "who or what uses the key, e.g. core-banking")
	_ = create.MarkFlagRequired("role")
	_ = create.MarkFlagRequired("name")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeys(cmd, func(ctx context.Context, k *auth.Keys) error {
				keys, err := k.List(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(keys)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tROLES\tPREFIX\tCREATED\tREVOKED")
				for _, ki := range keys {
					revoked := ""
					if ki.RevokedAt != nil {
						revoked = ki.RevokedAt.Format("2006-01-02 15:04")
					}
					fmt.Fprintf(tw, "%d\t%s\t%v\t%s…\t%s\t%s\n", ki.ID, ki.Name, ki.Roles, ki.Prefix, ki.CreatedAt.Format("2006-01-02 15:04"), revoked)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key by id (it stops working within seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("key id %q is not a number (see `ledgerline keys list`)", args[0])
			}
			return withKeys(cmd, func(ctx context.Context, k *auth.Keys) error {
				if err := k.Revoke(ctx, id, cliActor()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "key #%d revoked\n", id)
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// withKeys opens the database (starting the private server if needed) for fn.
func withKeys(cmd *cobra.Command, fn func(context.Context, *auth.Keys) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	return withDB(cmd, cfg, func(ctx context.Context, db *postgres.DB) error {
		return fn(ctx, auth.NewKeys(db.Pool))
	})
}

func withDB(cmd *cobra.Command, cfg config.Config, fn func(context.Context, *postgres.DB) error) error {
	log, err := logger(cmd, cfg)
	if err != nil {
		return err
	}
	if cfg.Log.Level == "info" {
		log, _ = logger(cmd, config.Config{Log: config.LogConfig{Level: "warn", Format: cfg.Log.Format}})
	}
	db, err := postgres.Open(cmd.Context(), cfg, log, migrations.FS)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(cmd.Context(), db)
}

// cliActor names the person at the terminal in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}
