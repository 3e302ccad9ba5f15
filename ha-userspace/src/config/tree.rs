//! Builds the block tree from preprocessed lines.
//!
//! A statement is the words up to the end of the line, a `{` or a `}`. A statement followed by
//! `{` (on the same line or alone at the start of the next one) owns the block up to the
//! matching `}`. Like keepalived, unbalanced braces are reported and recovered from: a stray
//! `{` is ignored, a stray `}` is ignored, and blocks still open at the end are closed.
//!
//! The builder is iterative and nesting is bounded, so 10,000 nested `{` cannot overflow the
//! stack here or when the tree is dropped. It streams: each top-level block is handed on as
//! soon as its `}` is read.

use super::diag::Diagnostics;
use super::preprocess::Word;
use super::source::Loc;

/// Deeper than any block keepalived's grammar has (real configs nest at most 4 levels).
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone)]
pub struct Node {
    /// The first word: the keyword (or, in list blocks such as `virtual_ipaddress`, the item).
    pub kw: Word,
    pub args: Vec<Word>,
    pub block: Option<Block>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub open: Loc,
    pub children: Vec<Node>,
}

impl Node {
    pub fn name(&self) -> &str {
        &self.kw.text
    }
    pub fn loc(&self) -> Loc {
        self.kw.loc
    }
    pub fn children(&self) -> &[Node] {
        self.block.as_ref().map_or(&[], |b| &b.children)
    }
    /// The keyword and its arguments, e.g. for list items that are whole lines.
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        std::iter::once(&self.kw).chain(self.args.iter())
    }
}

struct Open {
    node: Node,
    children: Vec<Node>,
}

/// Builds the tree one line at a time and hands over each top-level node as soon as it is
/// complete, so a configuration is never held whole as lines or as a tree.
#[derive(Default)]
pub struct Builder {
    stack: Vec<Open>,
    /// A finished top-level statement without a block: held back until the next line shows
    /// whether it starts with the statement's `{`.
    pending: Option<Node>,
    /// The last statement ended its line without a block: a `{` starting the next line is its.
    may_reopen: bool,
    /// Nesting went past [`MAX_DEPTH`]: everything after is ignored.
    stopped: bool,
}

impl Builder {
    /// Adds one line; `emit` receives each completed top-level node.
    pub fn line(
        &mut self,
        line: Vec<Word>,
        diags: &mut Diagnostics,
        emit: &mut dyn FnMut(Node, &mut Diagnostics),
    ) {
        if self.stopped {
            return;
        }
        let reopen_pending = self.may_reopen && line.first().is_some_and(Word::is_open);
        if !reopen_pending {
            if let Some(p) = self.pending.take() {
                emit(p, diags);
            }
        }
        let mut cur: Vec<Word> = Vec::new();
        let mut first = true;
        for w in line {
            if w.is_open() {
                let node = if !cur.is_empty() {
                    Some(statement(std::mem::take(&mut cur)))
                } else if first && self.may_reopen {
                    match self.stack.last_mut() {
                        Some(o) => o.children.pop(),
                        None => self.pending.take(),
                    }
                } else {
                    None
                };
                match node {
                    Some(_) if self.stack.len() >= MAX_DEPTH => {
                        diags
                            .error(Some(w.loc), "blocks nested too deeply")
                            .expected(format!("at most {MAX_DEPTH} levels of '{{'"));
                        self.stopped = true;
                        self.close_all(diags, emit);
                        return;
                    }
                    Some(mut node) => {
                        node.block = Some(Block {
                            open: w.loc,
                            children: Vec::new(),
                        });
                        self.stack.push(Open {
                            node,
                            children: Vec::new(),
                        });
                    }
                    None => {
                        diags
                            .warn(Some(w.loc), "unexpected '{' with no keyword before it")
                            .fallback("ignoring it");
                    }
                }
            } else if w.is_close() {
                if !cur.is_empty() {
                    self.push(statement(std::mem::take(&mut cur)), diags, emit);
                }
                match self.stack.pop() {
                    Some(open) => self.push(finish(open), diags, emit),
                    None => {
                        diags
                            .warn(Some(w.loc), "unexpected '}' with no block open")
                            .fallback("ignoring it");
                    }
                }
            } else {
                cur.push(w);
            }
            first = false;
        }
        self.may_reopen = !cur.is_empty();
        if !cur.is_empty() {
            let node = statement(cur);
            if self.stack.is_empty() {
                // Might still get its `{` from the next line.
                self.pending = Some(node);
            } else {
                self.push(node, diags, emit);
            }
        }
    }

    /// Ends the input: reports and closes blocks still open.
    pub fn finish(mut self, diags: &mut Diagnostics, emit: &mut dyn FnMut(Node, &mut Diagnostics)) {
        if let Some(p) = self.pending.take() {
            emit(p, diags);
        }
        for open in self.stack.iter().rev() {
            diags
                .warn(
                    Some(open.node.kw.loc),
                    format!("block '{}' is not closed", open.node.kw.text),
                )
                .expected("a matching '}'")
                .fallback("closing it at the end of the file");
        }
        self.close_all(diags, emit);
    }

    fn push(
        &mut self,
        node: Node,
        diags: &mut Diagnostics,
        emit: &mut dyn FnMut(Node, &mut Diagnostics),
    ) {
        match self.stack.last_mut() {
            Some(open) => open.children.push(node),
            None => emit(node, diags),
        }
    }

    fn close_all(&mut self, diags: &mut Diagnostics, emit: &mut dyn FnMut(Node, &mut Diagnostics)) {
        while let Some(open) = self.stack.pop() {
            let node = finish(open);
            self.push(node, diags, emit);
        }
    }
}

/// The whole tree of `lines` at once (for tests and small inputs).
pub fn build(lines: Vec<Vec<Word>>, diags: &mut Diagnostics) -> Vec<Node> {
    let mut out = Vec::new();
    let mut b = Builder::default();
    for line in lines {
        b.line(line, diags, &mut |n, _| out.push(n));
    }
    b.finish(diags, &mut |n, _| out.push(n));
    out
}

fn statement(mut words: Vec<Word>) -> Node {
    let kw = words.remove(0);
    Node {
        kw,
        args: words,
        block: None,
    }
}

fn finish(open: Open) -> Node {
    let mut node = open.node;
    if let Some(b) = node.block.as_mut() {
        b.children = open.children;
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::lexer::lex_line;

    fn lines(text: &str) -> Vec<Vec<Word>> {
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                lex_line(l)
                    .0
                    .into_iter()
                    .map(|w| Word {
                        text: w.text,
                        loc: Loc {
                            file: 0,
                            line: i as u32 + 1,
                            col: w.col,
                        },
                        quoted: w.quoted,
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|l: &Vec<Word>| !l.is_empty())
            .collect()
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let args: Vec<&str> = n.args.iter().map(|a| a.text.as_str()).collect();
                let mut s = format!("{}({})", n.name(), args.join(" "));
                if n.block.is_some() {
                    s.push_str(&format!("[{}]", shape(n.children())));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn parse(text: &str) -> (String, Diagnostics) {
        let mut d = Diagnostics::new(false);
        let tree = build(lines(text), &mut d);
        (shape(&tree), d)
    }

    #[test]
    fn brace_on_same_or_next_line_and_one_line_blocks() {
        let (s, d) = parse("a 1 {\n b 2\n}\nc\n{\n d { e }\n}");
        assert_eq!(s, "a(1)[b(2)],c()[d()[e()]]");
        assert!(d.list().is_empty());
    }

    #[test]
    fn list_blocks_keep_whole_lines() {
        let (s, _) = parse("virtual_ipaddress {\n 192.0.2.1/24 dev eth0\n 192.0.2.2\n}");
        assert_eq!(s, "virtual_ipaddress()[192.0.2.1/24(dev eth0),192.0.2.2()]");
    }

    #[test]
    fn unbalanced_braces_are_reported_and_recovered() {
        let (s, d) = parse("a {\n b\n");
        assert_eq!(s, "a()[b()]");
        assert_eq!(d.list().len(), 1);
        assert!(d.list()[0].what.contains("not closed"));
        let (s, d) = parse("a\n}\nb");
        assert_eq!(s, "a(),b()");
        assert!(d.list()[0].what.contains("unexpected '}'"));
        let (_, d) = parse("{\n");
        assert!(d.list()[0].what.contains("unexpected '{'"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "a {\n".repeat(10_000);
        let (_, d) = parse(&text);
        assert!(d.has_errors());
    }
}
