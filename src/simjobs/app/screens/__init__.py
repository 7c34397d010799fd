"""The app's screens: main (job table and load panels), confirm, help; and the modal
submit, simulations-log and job-detail screens."""
