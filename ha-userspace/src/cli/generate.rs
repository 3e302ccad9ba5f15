//! `ha generate`: the man pages and shell completions the package installs, generated from
//! the command-line definitions so they never drift from them.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Subcommand};

#[derive(Subcommand, Clone)]
pub enum What {
    /// Man pages: ha(8), one ha-COMMAND(8) per command, and keepalived(8) for the binary
    /// started as keepalived.
    Man {
        /// The folder to write them into.
        dir: PathBuf,
    },
    /// Completions of `ha` for a shell.
    Completions {
        shell: clap_complete::Shell,
        /// The folder to write the file into.
        dir: PathBuf,
    },
}

pub fn run(what: &What) -> i32 {
    let r = match what {
        What::Man { dir } => man_pages(dir),
        What::Completions { shell, dir } => {
            let mut cmd = crate::Cli::command();
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_complete::generate_to(*shell, &mut cmd, "ha", dir))
                .map(|p| println!("{}", p.display()))
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ha generate: {e}");
            1
        }
    }
}

fn man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ha = crate::Cli::command();
    write_man(dir, "ha", ha.clone())?;
    for sub in ha.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("ha-{}", sub.get_name());
        write_man(dir, &name, sub.clone().name(name.clone()))?;
    }
    write_man(
        dir,
        "keepalived",
        super::keepalived::KeepalivedCli::command(),
    )
}

fn write_man(dir: &Path, name: &str, cmd: clap::Command) -> std::io::Result<()> {
    let path = dir.join(format!("{name}.8"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).section("8").render(&mut out)?;
    std::fs::write(&path, out)?;
    println!("{}", path.display());
    Ok(())
}
