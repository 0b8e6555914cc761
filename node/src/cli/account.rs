//! `seednet account ...`: named accounts for people, on the local data dir
//! (node stopped) or on a running node through `/api/v1/accounts` with
//! `--node URL --token T` (an admin token), like `seednet token`.
//!
//! A password is read from standard input with `--password-stdin` (one
//! line, so it never appears in the shell history or the process list);
//! without it the command makes a random one and prints it once, for the
//! person to change after signing in.

use std::io::{BufRead, Read};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use seednet_node::accounts::{self, AccountChange, AccountInfo, NewAccount, PASSWORD_CHARS_MAX};
use seednet_node::tokens::Role;

use super::{JsonFlag, Target};

/// Characters of a generated password (no look-alikes such as 0/O, 1/l).
const GENERATED_PASSWORD_ALPHABET: &[u8] =
    b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Length of a generated password (about 116 bits).
const GENERATED_PASSWORD_CHARS: usize = 20;

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account for a person (they sign in to the web interface with it).
    Add {
        /// 2 to 32 of a-z 0-9 . _ - (starting with a letter or digit).
        username: String,
        /// The name the interface and the audit log show, e.g. "Maria Rossi".
        #[arg(long = "name", value_name = "DISPLAY_NAME")]
        display_name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List accounts (username, role, state, display name; never passwords).
    List(JsonFlag),
    /// Disable an account: it cannot sign in and its sessions end.
    Disable { username: String },
    /// Enable a disabled account again.
    Enable { username: String },
    /// Set a new password for an account (generated unless --password-stdin); its sessions end.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account (its audit entries stay).
    Delete { username: String },
}

/// The password to set, and whether it was generated (then it is printed).
fn password(from_stdin: bool) -> Result<(String, bool)> {
    if !from_stdin {
        let password = (0..GENERATED_PASSWORD_CHARS)
            .map(|_| {
                let index = rand::random::<usize>() % GENERATED_PASSWORD_ALPHABET.len();
                GENERATED_PASSWORD_ALPHABET[index] as char
            })
            .collect();
        return Ok((password, true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take((PASSWORD_CHARS_MAX * 4 + 2) as u64)
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("--password-stdin: standard input has no password line");
    }
    Ok((password, false))
}

fn print_account(account: &AccountInfo) {
    println!(
        "{}\t{}\t{}\t{}",
        account.username,
        account.role.as_str(),
        if account.disabled {
            "disabled"
        } else {
            "active"
        },
        account.display_name
    );
}

async fn change(target: &Target, username: &str, change: AccountChange) -> Result<AccountInfo> {
    match target {
        Target::Local(_) => {
            let username = username.to_string();
            target
                .read(move |local| {
                    Ok(accounts::change(
                        local.node.storage.as_ref(),
                        &username,
                        &change,
                    )?)
                })
                .await
        }
        Target::Remote(remote) => remote.change_account(username, &change).await,
    }
}

pub async fn account(target: &Target, command: AccountCommand) -> Result<()> {
    match command {
        AccountCommand::Add {
            username,
            display_name,
            role,
            password_stdin,
            json,
        } => {
            let (password, generated) = password(password_stdin)?;
            let new = NewAccount {
                username,
                display_name,
                role,
                password: password.clone(),
            };
            let info = match target {
                Target::Local(_) => {
                    target
                        .read(move |local| Ok(accounts::create(local.node.storage.as_ref(), &new)?))
                        .await?
                }
                Target::Remote(remote) => remote.create_account(&new).await?,
            };
            if json {
                let mut value = serde_json::to_value(&info)?;
                if generated {
                    value["password"] = serde_json::Value::String(password);
                }
                println!("{value}");
            } else {
                println!("created {} account {}", info.role.as_str(), info.username);
                if generated {
                    println!("password (shown once; ask them to change it): {password}");
                }
            }
        }
        AccountCommand::List(flag) => {
            let list = match target {
                Target::Local(_) => {
                    target
                        .read(|local| Ok(accounts::list(local.node.storage.as_ref())?))
                        .await?
                }
                Target::Remote(remote) => remote.list_accounts().await?,
            };
            if flag.json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("no accounts yet: seednet account add USERNAME --name NAME --role editor");
            } else {
                list.iter().for_each(print_account);
            }
        }
        AccountCommand::Disable { username } => {
            change(target, &username, AccountChange::Disable).await?;
            println!("disabled account {username}; its sessions end");
        }
        AccountCommand::Enable { username } => {
            change(target, &username, AccountChange::Enable).await?;
            println!("enabled account {username}");
        }
        AccountCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let (password, generated) = password(password_stdin)?;
            change(
                target,
                &username,
                AccountChange::ResetPassword(password.clone()),
            )
            .await?;
            println!("new password set for {username}; its sessions end");
            if generated {
                println!("password (shown once; ask them to change it): {password}");
            }
        }
        AccountCommand::Delete { username } => {
            match target {
                Target::Local(_) => {
                    let name = username.clone();
                    target
                        .read(move |local| {
                            Ok(accounts::delete(local.node.storage.as_ref(), &name)?)
                        })
                        .await?
                }
                Target::Remote(remote) => remote.delete_account(&username).await?,
            }
            println!("deleted account {username}");
        }
    }
    Ok(())
}
