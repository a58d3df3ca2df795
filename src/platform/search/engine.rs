//! Full-text search engine over tantivy.
//!
//! This module owns everything between "documents handed over by the app" and
//! "ranked, highlighted hits": the index schema and its version, the word
//! analyzer, the on-disk index lifecycle (create / open / reject), the single
//! `IndexWriter` and its commits (each commit records the app's outbox sequence
//! number in tantivy's commit payload), query construction (every word must
//! match, typo tolerant, last word as a prefix), ranking, and hits with HTML
//! highlighting (the word matching and rendering live in [`highlight`]).
//!
//! It knows nothing about the app: no database, no HTTP, no app types. All
//! calls block (disk I/O, fsync on commit); call them off the async executor.
//!
//! Matching: user text is split by the same analyzer as the index (lowercase,
//! ASCII-folded words). Every word must match in some searched field, exactly,
//! within 1 edit (4–7 chars) or 2 edits (8+ chars), a transposition counting as
//! one; the last word (2+ chars) also matches as a prefix, with one edit allowed
//! from 4 chars on. At most 16 words are used.
//!
//! Ranking: each word scores the sum, over the fields it occurs in, of an exact
//! match (BM25), a fuzzy match (constant 0.5) and a prefix match (constant
//! 0.7), weighted by field (title 3, tags 2, body 1, extra 0.7). An exact match
//! also counts as fuzzy and prefix, so within a field it beats a typo. For
//! `DocKind::User` and `DocKind::Tag` the score is multiplied by
//! `1 + ln(1 + popularity) / 10`: a tag used a thousand times gets about 1.7x
//! the score of an unused one with the same text match. Ties go to the newest
//! `created_at`.

mod highlight;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query as TantivyQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenStream,
};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentReader,
    TantivyDocument, Term,
};

use self::highlight::{QueryWord, best_fragment, highlight_all};

/// Bump whenever the schema, the analyzer or the meaning of a field changes;
/// an index written with another version is rejected by [`SearchIndex::open`].
pub const SCHEMA_VERSION: u32 = 1;

const COMMIT_PAYLOAD_TAG: &str = "stratamake-search";
const ANALYZER_NAME: &str = "stratamake_words";
/// Tokens of this many UTF-8 bytes or more are dropped (hashes, base64 blobs).
const MAX_TOKEN_BYTES: usize = 40;
const MAX_QUERY_WORDS: usize = 16;
/// One indexing thread: batches are small, and more threads only make more
/// segments (measured slower). tantivy wants at least 15 MB of heap per thread.
const WRITER_THREADS: usize = 1;
const WRITER_HEAP_BYTES: usize = 50_000_000;
/// Bounds on paging so a hostile offset cannot make the collector allocate huge buffers.
const MAX_LIMIT: usize = 1_000;
const MAX_OFFSET: usize = 10_000;

const TITLE_BOOST: Score = 3.0;
const TAGS_BOOST: Score = 2.0;
const BODY_BOOST: Score = 1.0;
const EXTRA_BOOST: Score = 0.7;
/// Constant score of a fuzzy match, before the field boost (exact matches score BM25).
const FUZZY_MATCH_SCORE: Score = 0.5;
/// Constant score of a prefix match, before the field boost.
const PREFIX_MATCH_SCORE: Score = 0.7;
const POPULARITY_WEIGHT: Score = 0.1;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    Post,
    User,
    Tag,
}

impl DocKind {
    /// The value stored in the index's `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Post => "post",
            DocKind::User => "user",
            DocKind::Tag => "tag",
        }
    }
}

/// One searchable thing, as the app hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: DocKind,
    /// Unique per kind.
    pub id: String,
    /// Post title / username + display name / tag name.
    pub title: String,
    /// Post description (plain text) / user bio / empty.
    pub body: String,
    /// Post tags.
    pub tags: Vec<String>,
    /// Post's generation prompt (may be empty).
    pub extra: String,
    /// E.g. "image" or "model" for posts; "" otherwise.
    pub filter: String,
    /// Unix seconds.
    pub created_at: i64,
    /// E.g. tag post count / follower count; 0 for posts.
    pub popularity: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Replaces any document of the same kind and id.
    Upsert(Document),
    Delete {
        kind: DocKind,
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    Newest,
}

#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub text: &'a str,
    pub kind: DocKind,
    pub filter: Option<&'a str>,
    pub sort: Sort,
    /// Capped at 1000; 0 returns only the total.
    pub limit: usize,
    /// Beyond 10000 no hits are returned, only the total.
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    /// Ranking score (popularity-blended for users and tags).
    pub score: f32,
    pub created_at: i64,
    /// The stored title, HTML-escaped, matched words wrapped in `<mark>…</mark>`.
    pub title_html: String,
    /// Best fragment of body (or of extra when body has no match), escaped, with
    /// `<mark>`s; "" when neither matches.
    pub snippet_html: String,
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("no search index in {0}")]
    Missing(PathBuf),
    #[error("cannot create a search index in {0}: directory is not empty")]
    NotEmpty(PathBuf),
    #[error("search index has schema version {found:?}, expected {SCHEMA_VERSION}")]
    SchemaVersion { found: Option<u32> },
    #[error("search index schema differs from the expected one")]
    SchemaMismatch,
    #[error("search index is unreadable: {0}")]
    Corrupt(String),
    /// Another `SearchIndex` (in this or another process) holds the writer lock;
    /// rebuilding would not help.
    #[error("search index is locked by another writer: {0}")]
    Locked(String),
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Handle on one on-disk index. Clones share the same index, reader and writer.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SearchIndex")
            .field("applied_seq", &self.applied_seq())
            .field("doc_count", &self.doc_count())
            .finish_non_exhaustive()
    }
}

struct Inner {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    analyzer: TextAnalyzer,
    applied_seq: AtomicI64,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    /// "kind:id", the unique key used to delete/replace a document.
    key: Field,
    kind: Field,
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
    extra: Field,
    filter: Field,
    created_at: Field,
    popularity: Field,
}

impl Fields {
    fn weighted_text_fields(&self) -> [(Field, Score); 4] {
        [
            (self.title, TITLE_BOOST),
            (self.tags, TAGS_BOOST),
            (self.body, BODY_BOOST),
            (self.extra, EXTRA_BOOST),
        ]
    }
}

fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
        .set_stored();
    let fields = Fields {
        key: builder.add_text_field("key", STRING),
        kind: builder.add_text_field("kind", STRING),
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", text.clone()),
        body: builder.add_text_field("body", text.clone()),
        tags: builder.add_text_field("tags", text.clone()),
        extra: builder.add_text_field("extra", text),
        filter: builder.add_text_field("filter", STRING),
        created_at: builder.add_i64_field("created_at", FAST | INDEXED | STORED),
        popularity: builder.add_i64_field("popularity", FAST | STORED),
    };
    (builder.build(), fields)
}

/// Lowercasing, ASCII-folding word analyzer used for indexing, querying and highlighting.
fn word_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

fn document_key(kind: DocKind, id: &str) -> String {
    format!("{}:{id}", kind.as_str())
}

fn commit_payload(seq: i64) -> String {
    format!("{COMMIT_PAYLOAD_TAG} v{SCHEMA_VERSION} seq={seq}")
}

/// Parses a commit payload into (schema version, seq).
fn parse_commit_payload(payload: &str) -> Option<(u32, i64)> {
    let mut parts = payload.split(' ');
    if parts.next()? != COMMIT_PAYLOAD_TAG {
        return None;
    }
    let version = parts.next()?.strip_prefix('v')?.parse().ok()?;
    let seq = parts.next()?.strip_prefix("seq=")?.parse().ok()?;
    parts.next().is_none().then_some((version, seq))
}

impl SearchIndex {
    /// Opens the index in `dir`; errors if it is missing, unreadable, or was
    /// written with another schema version (the caller then rebuilds it).
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        if !dir.join("meta.json").is_file() {
            return Err(SearchError::Missing(dir.to_path_buf()));
        }
        let index = Index::open_in_dir(dir).map_err(|err| SearchError::Corrupt(err.to_string()))?;
        let metas = index
            .load_metas()
            .map_err(|err| SearchError::Corrupt(err.to_string()))?;
        let (version, seq) = match metas.payload.as_deref().and_then(parse_commit_payload) {
            Some(parsed) => parsed,
            None => return Err(SearchError::SchemaVersion { found: None }),
        };
        if version != SCHEMA_VERSION {
            return Err(SearchError::SchemaVersion {
                found: Some(version),
            });
        }
        let (schema, fields) = build_schema();
        if index.schema() != schema {
            return Err(SearchError::SchemaMismatch);
        }
        let search_index = Self::from_index(index, fields, seq)?;
        tracing::info!(dir = %dir.display(), seq, docs = search_index.doc_count(), "opened search index");
        Ok(search_index)
    }

    /// Creates a new empty index in `dir`, which must be empty or absent.
    pub fn create(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)?;
        if std::fs::read_dir(dir)?.next().is_some() {
            return Err(SearchError::NotEmpty(dir.to_path_buf()));
        }
        let (schema, fields) = build_schema();
        let index = Index::create_in_dir(dir, schema)?;
        let search_index = Self::from_index(index, fields, 0)?;
        search_index.apply(Vec::new(), 0)?;
        tracing::info!(dir = %dir.display(), "created search index");
        Ok(search_index)
    }

    fn from_index(index: Index, fields: Fields, applied_seq: i64) -> Result<Self, SearchError> {
        let analyzer = word_analyzer();
        index.tokenizers().register(ANALYZER_NAME, analyzer.clone());
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, WRITER_HEAP_BYTES)
            .map_err(|err| match err {
                tantivy::TantivyError::LockFailure(..) => SearchError::Locked(err.to_string()),
                other => SearchError::Tantivy(other),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|err: tantivy::TantivyError| SearchError::Corrupt(err.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                reader,
                writer: Mutex::new(writer),
                fields,
                analyzer,
                applied_seq: AtomicI64::new(applied_seq),
            }),
        })
    }

    /// The outbox sequence number stored by the last commit (0 for a new index).
    pub fn applied_seq(&self) -> i64 {
        self.inner.applied_seq.load(Ordering::Acquire)
    }

    /// Number of live documents visible to searches.
    pub fn doc_count(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// Applies `changes` in order (an upsert first deletes any document with the
    /// same kind and id), commits with `seq` recorded, and reloads the reader so
    /// the next search sees the result. On error nothing of the batch is kept.
    pub fn apply(&self, changes: Vec<Change>, seq: i64) -> Result<(), SearchError> {
        let mut writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let change_count = changes.len();
        if let Err(err) = self.write_and_commit(&mut writer, changes, seq) {
            tracing::warn!(error = %err, seq, "search index commit failed, rolling back");
            if let Err(rollback_err) = writer.rollback() {
                tracing::error!(error = %rollback_err, "search index rollback failed");
            }
            return Err(err);
        }
        drop(writer);
        self.inner.applied_seq.store(seq, Ordering::Release);
        self.inner.reader.reload()?;
        tracing::debug!(changes = change_count, seq, "search index committed");
        Ok(())
    }

    fn write_and_commit(
        &self,
        writer: &mut IndexWriter,
        changes: Vec<Change>,
        seq: i64,
    ) -> Result<(), SearchError> {
        let fields = &self.inner.fields;
        for change in changes {
            match change {
                Change::Upsert(document) => {
                    let key = document_key(document.kind, &document.id);
                    writer.delete_term(Term::from_field_text(fields.key, &key));
                    writer.add_document(self.to_tantivy_document(&key, document))?;
                }
                Change::Delete { kind, id } => {
                    let key = document_key(kind, &id);
                    writer.delete_term(Term::from_field_text(fields.key, &key));
                }
            }
        }
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&commit_payload(seq));
        prepared.commit()?;
        Ok(())
    }

    fn to_tantivy_document(&self, key: &str, document: Document) -> TantivyDocument {
        let fields = &self.inner.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.key, key);
        doc.add_text(fields.kind, document.kind.as_str());
        doc.add_text(fields.id, &document.id);
        doc.add_text(fields.title, &document.title);
        doc.add_text(fields.body, &document.body);
        for tag in &document.tags {
            doc.add_text(fields.tags, tag);
        }
        doc.add_text(fields.extra, &document.extra);
        doc.add_text(fields.filter, &document.filter);
        doc.add_i64(fields.created_at, document.created_at);
        doc.add_i64(fields.popularity, document.popularity);
        doc
    }

    /// The stored tags of a document, if it is in the index.
    pub fn stored_tags(&self, kind: DocKind, id: &str) -> Result<Option<Vec<String>>, SearchError> {
        let fields = &self.inner.fields;
        let searcher = self.inner.reader.searcher();
        let by_key = TermQuery::new(
            Term::from_field_text(fields.key, &document_key(kind, id)),
            IndexRecordOption::Basic,
        );
        let found = searcher.search(&by_key, &TopDocs::with_limit(1).order_by_score())?;
        let Some(&(_, address)) = found.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(address)?;
        Ok(Some(all_texts(&doc, fields.tags)))
    }

    /// Runs `query`; returns one page of hits and the total number of matches.
    pub fn search(&self, query: &Query) -> Result<(Vec<Hit>, usize), SearchError> {
        let words = self.query_words(query.text);
        if words.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let tantivy_query = self.build_query(&words, query.kind, query.filter);
        let searcher = self.inner.reader.searcher();
        let limit = query.limit.min(MAX_LIMIT);
        if limit == 0 || query.offset > MAX_OFFSET {
            return Ok((Vec::new(), searcher.search(&tantivy_query, &Count)?));
        }
        let page = TopDocs::with_limit(limit).and_offset(query.offset);
        let (ranked, total): (Vec<(Score, DocAddress)>, usize) = match query.sort {
            Sort::Relevance => {
                let popularity_weight = match query.kind {
                    DocKind::Post => 0.0,
                    DocKind::User | DocKind::Tag => POPULARITY_WEIGHT,
                };
                let collector = page.tweak_score(move |segment: &SegmentReader| {
                    relevance_sort_key(segment, popularity_weight)
                });
                let (top, total) = searcher.search(&tantivy_query, &(collector, Count))?;
                let ranked = top
                    .into_iter()
                    .map(|((score, _created_at), address)| (score, address))
                    .collect();
                (ranked, total)
            }
            Sort::Newest => {
                let newest_first = (
                    (
                        SortByStaticFastValue::<i64>::for_field("created_at"),
                        Order::Desc,
                    ),
                    SortBySimilarityScore,
                );
                let (top, total) =
                    searcher.search(&tantivy_query, &(page.order_by(newest_first), Count))?;
                let ranked = top
                    .into_iter()
                    .map(|((_created_at, score), address)| (score, address))
                    .collect();
                (ranked, total)
            }
        };
        let hits = ranked
            .into_iter()
            .map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                Ok(self.to_hit(&doc, score, &words))
            })
            .collect::<Result<Vec<_>, SearchError>>()?;
        Ok((hits, total))
    }

    /// Splits user text into analyzed query words (at most [`MAX_QUERY_WORDS`]).
    fn query_words(&self, text: &str) -> Vec<QueryWord> {
        let mut analyzer = self.inner.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut texts = Vec::new();
        while texts.len() < MAX_QUERY_WORDS && stream.advance() {
            texts.push(stream.token().text.clone());
        }
        let last = texts.len().saturating_sub(1);
        texts
            .into_iter()
            .enumerate()
            .map(|(index, text)| QueryWord::new(text, index == last))
            .collect()
    }

    fn build_query(
        &self,
        words: &[QueryWord],
        kind: DocKind,
        filter: Option<&str>,
    ) -> BooleanQuery {
        let fields = &self.inner.fields;
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        clauses.push((Occur::Must, exact_filter(fields.kind, kind.as_str())));
        if let Some(filter) = filter {
            clauses.push((Occur::Must, exact_filter(fields.filter, filter)));
        }
        for word in words {
            let mut alternatives: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
            for (field, boost) in fields.weighted_text_fields() {
                let term = Term::from_field_text(field, &word.text);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                alternatives.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact), boost)),
                ));
                if word.max_edits > 0 {
                    let fuzzy = FuzzyTermQuery::new(term.clone(), word.max_edits, true);
                    let score = FUZZY_MATCH_SCORE * boost;
                    alternatives.push((
                        Occur::Should,
                        Box::new(ConstScoreQuery::new(Box::new(fuzzy), score)),
                    ));
                }
                if word.is_prefix {
                    let prefix = FuzzyTermQuery::new_prefix(term, word.prefix_edits, true);
                    let score = PREFIX_MATCH_SCORE * boost;
                    alternatives.push((
                        Occur::Should,
                        Box::new(ConstScoreQuery::new(Box::new(prefix), score)),
                    ));
                }
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        BooleanQuery::new(clauses)
    }

    fn to_hit(&self, doc: &TantivyDocument, score: Score, words: &[QueryWord]) -> Hit {
        let fields = &self.inner.fields;
        let mut analyzer = self.inner.analyzer.clone();
        let title_html = highlight_all(&mut analyzer, first_text(doc, fields.title), words);
        let snippet_html = [fields.body, fields.extra]
            .into_iter()
            .find_map(|field| best_fragment(&mut analyzer, first_text(doc, field), words))
            .unwrap_or_default();
        Hit {
            id: first_text(doc, fields.id).to_owned(),
            score,
            created_at: doc
                .get_first(fields.created_at)
                .and_then(|value| value.as_i64())
                .unwrap_or_default(),
            title_html,
            snippet_html,
            tags: all_texts(doc, fields.tags),
        }
    }
}

/// Sort key of `Sort::Relevance`: (score blended with popularity, created_at).
fn relevance_sort_key(
    segment: &SegmentReader,
    popularity_weight: Score,
) -> impl Fn(DocId, Score) -> (Score, i64) + use<> {
    let fast_fields = segment.fast_fields();
    let created_at = fast_fields
        .i64("created_at")
        .ok()
        .map(|column| column.first_or_default_col(0));
    let popularity = fast_fields
        .i64("popularity")
        .ok()
        .map(|column| column.first_or_default_col(0));
    move |doc, score| {
        let popularity = popularity.as_ref().map_or(0, |column| column.get_val(doc));
        let boost = 1.0 + popularity_weight * (popularity.max(0) as Score).ln_1p();
        let created_at = created_at.as_ref().map_or(0, |column| column.get_val(doc));
        (score * boost, created_at)
    }
}

/// A filter clause that restricts matches without contributing to the score.
fn exact_filter(field: Field, value: &str) -> Box<dyn TantivyQuery> {
    let term_query = TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    );
    Box::new(ConstScoreQuery::new(Box::new(term_query), 0.0))
}

fn first_text(doc: &TantivyDocument, field: Field) -> &str {
    doc.get_first(field)
        .and_then(|value| value.as_str())
        .unwrap_or_default()
}

fn all_texts(doc: &TantivyDocument, field: Field) -> Vec<String> {
    doc.get_all(field)
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;

    fn post(id: &str, title: &str, body: &str, tags: &[&str], created_at: i64) -> Document {
        Document {
            kind: DocKind::Post,
            id: id.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            extra: String::new(),
            filter: "image".to_owned(),
            created_at,
            popularity: 0,
        }
    }

    fn named(kind: DocKind, id: &str, title: &str, popularity: i64) -> Document {
        Document {
            kind,
            id: id.to_owned(),
            title: title.to_owned(),
            body: String::new(),
            tags: Vec::new(),
            extra: String::new(),
            filter: String::new(),
            created_at: 0,
            popularity,
        }
    }

    fn index_with(documents: Vec<Document>) -> (TempDir, SearchIndex) {
        let dir = TempDir::new().unwrap();
        let index = SearchIndex::create(&dir.path().join("search")).unwrap();
        index
            .apply(documents.into_iter().map(Change::Upsert).collect(), 1)
            .unwrap();
        (dir, index)
    }

    fn query(text: &str, kind: DocKind) -> Query<'_> {
        Query {
            text,
            kind,
            filter: None,
            sort: Sort::Relevance,
            limit: 20,
            offset: 0,
        }
    }

    fn ids(index: &SearchIndex, query: &Query) -> Vec<String> {
        let (hits, _) = index.search(query).unwrap();
        hits.into_iter().map(|hit| hit.id).collect()
    }

    fn post_ids(index: &SearchIndex, text: &str) -> Vec<String> {
        ids(index, &query(text, DocKind::Post))
    }

    fn sample_posts() -> Vec<Document> {
        let rows: [(&str, &str, &str, &[&str], i64); 4] = [
            (
                "1",
                "Red dragon",
                "A dragon over the castle",
                &["fantasy"],
                100,
            ),
            (
                "2",
                "Mountain landscape",
                "Sunset light on peaks",
                &["nature"],
                300,
            ),
            (
                "3",
                "Blue dragon at sunset",
                "Scales and wings",
                &["fantasy", "sunset"],
                200,
            ),
            ("4", "Cat portrait", "A small car and a cat", &["pets"], 50),
        ];
        rows.into_iter()
            .map(|(id, title, body, tags, created_at)| post(id, title, body, tags, created_at))
            .collect()
    }

    #[test]
    fn search_index_is_a_cheap_shared_handle() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<SearchIndex>();
    }

    #[test]
    fn typos_are_tolerated() {
        let (_dir, index) = index_with(sample_posts());
        assert_eq!(post_ids(&index, "dargon red"), ["1"]);
        assert_eq!(post_ids(&index, "lanscape"), ["2"]);
        assert_eq!(post_ids(&index, "mountian lanscape"), ["2"]);
        assert!(post_ids(&index, "dogs").is_empty());
    }

    #[test]
    fn short_words_match_exactly_except_as_prefix() {
        let (_dir, index) = index_with(sample_posts());
        assert_eq!(post_ids(&index, "cat"), ["4"]);
        assert!(post_ids(&index, "cas portrait").is_empty());
    }

    #[test]
    fn last_word_is_a_prefix() {
        let (_dir, index) = index_with(sample_posts());
        let mut found = post_ids(&index, "drag");
        found.sort();
        assert_eq!(found, ["1", "3"]);
        assert_eq!(post_ids(&index, "red dra"), ["1"]);
        assert_eq!(post_ids(&index, "castle drag"), ["1"]);
        assert!(post_ids(&index, "drag castle").is_empty());
        assert_eq!(post_ids(&index, "castle dargo"), ["1"]);
        assert!(post_ids(&index, "d").is_empty());
    }

    #[test]
    fn every_word_must_match_in_some_field() {
        let (_dir, index) = index_with(sample_posts());
        assert_eq!(post_ids(&index, "blue dragon"), ["3"]);
        assert_eq!(post_ids(&index, "dragon fantasy castle"), ["1"]);
        assert!(post_ids(&index, "dragon mountain").is_empty());
    }

    #[test]
    fn kinds_and_filters_are_separate() {
        let mut model = post("5", "Dragon model", "", &[], 10);
        model.filter = "model".to_owned();
        let (_dir, index) = index_with(vec![
            post("1", "Dragon", "", &[], 10),
            model,
            named(DocKind::User, "1", "dragon_fan Dragon Fan", 3),
            named(DocKind::Tag, "dragon", "dragon", 7),
        ]);
        let mut posts = post_ids(&index, "dragon");
        posts.sort();
        assert_eq!(posts, ["1", "5"]);
        assert_eq!(ids(&index, &query("dragon", DocKind::User)), ["1"]);
        assert_eq!(ids(&index, &query("dragon", DocKind::Tag)), ["dragon"]);
        let models = Query {
            filter: Some("model"),
            ..query("dragon", DocKind::Post)
        };
        assert_eq!(ids(&index, &models), ["5"]);
        let images = Query {
            filter: Some("image"),
            ..query("dragon", DocKind::Post)
        };
        assert_eq!(ids(&index, &images), ["1"]);

        index
            .apply(
                vec![Change::Delete {
                    kind: DocKind::Post,
                    id: "1".to_owned(),
                }],
                2,
            )
            .unwrap();
        assert_eq!(ids(&index, &query("dragon", DocKind::User)), ["1"]);
        assert_eq!(post_ids(&index, "dragon"), ["5"]);
    }

    #[test]
    fn newest_sort_orders_by_created_at() {
        let (_dir, index) = index_with(vec![
            post("old", "Dragon", "", &[], 100),
            post("new", "Dragon dragon dragon", "", &[], 300),
            post("mid", "Dragon", "", &[], 200),
            post("other", "Castle", "", &[], 400),
        ]);
        let newest = Query {
            sort: Sort::Newest,
            ..query("dragon", DocKind::Post)
        };
        assert_eq!(ids(&index, &newest), ["new", "mid", "old"]);
        let (hits, total) = index
            .search(&Query {
                offset: 1,
                limit: 1,
                ..newest
            })
            .unwrap();
        assert_eq!(total, 3);
        assert_eq!(hits[0].id, "mid");
        assert_eq!(hits[0].created_at, 200);
        assert!(hits[0].score > 0.0);
    }

    #[test]
    fn relevance_prefers_exact_matches_then_newer() {
        let (_dir, index) = index_with(vec![
            post("fuzzy", "Dragoon", "", &[], 500),
            post("exact-old", "Dragon", "", &[], 100),
            post("exact-new", "Dragon", "", &[], 200),
        ]);
        assert_eq!(
            post_ids(&index, "dragon"),
            ["exact-new", "exact-old", "fuzzy"]
        );
    }

    #[test]
    fn popularity_lifts_tags_and_users() {
        let (_dir, index) = index_with(vec![
            named(DocKind::Tag, "dragon-art", "dragon art", 0),
            named(DocKind::Tag, "dragon-lore", "dragon lore", 5000),
        ]);
        assert_eq!(
            ids(&index, &query("dragon", DocKind::Tag)),
            ["dragon-lore", "dragon-art"]
        );
    }

    #[test]
    fn upsert_replaces_and_delete_removes() {
        let (_dir, index) = index_with(vec![post("1", "Dragon", "", &["fantasy"], 1)]);
        index
            .apply(
                vec![
                    Change::Upsert(post("1", "Griffin", "", &["myth"], 1)),
                    Change::Upsert(post("1", "Phoenix", "", &["myth", "fire"], 1)),
                ],
                2,
            )
            .unwrap();
        assert_eq!(index.doc_count(), 1);
        assert!(post_ids(&index, "dragon").is_empty());
        assert!(post_ids(&index, "griffin").is_empty());
        assert_eq!(post_ids(&index, "phoenix"), ["1"]);
        assert_eq!(
            index.stored_tags(DocKind::Post, "1").unwrap(),
            Some(vec!["myth".to_owned(), "fire".to_owned()])
        );
        assert_eq!(index.stored_tags(DocKind::User, "1").unwrap(), None);

        let delete = Change::Delete {
            kind: DocKind::Post,
            id: "1".to_owned(),
        };
        index.apply(vec![delete], 3).unwrap();
        assert_eq!(index.doc_count(), 0);
        assert!(post_ids(&index, "phoenix").is_empty());
        assert_eq!(index.stored_tags(DocKind::Post, "1").unwrap(), None);
    }

    #[test]
    fn applied_seq_persists_across_reopen() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("search");
        {
            let index = SearchIndex::create(&path).unwrap();
            assert_eq!(index.applied_seq(), 0);
            index
                .apply(vec![Change::Upsert(post("1", "Dragon", "", &[], 1))], 42)
                .unwrap();
            assert_eq!(index.applied_seq(), 42);
        }
        let reopened = SearchIndex::open(&path).unwrap();
        assert_eq!(reopened.applied_seq(), 42);
        assert_eq!(post_ids(&reopened, "dragon"), ["1"]);
        reopened.apply(Vec::new(), 43).unwrap();
        drop(reopened);
        assert_eq!(SearchIndex::open(&path).unwrap().applied_seq(), 43);
    }

    #[test]
    fn create_then_open_works_and_create_refuses_non_empty_dirs() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("nested").join("search");
        drop(SearchIndex::create(&path).unwrap());
        let opened = SearchIndex::open(&path).unwrap();
        assert_eq!(opened.doc_count(), 0);
        assert!(matches!(open_error(&path), SearchError::Locked(_)));
        drop(opened);
        let not_empty = SearchIndex::create(&path).err();
        assert!(matches!(not_empty, Some(SearchError::NotEmpty(_))));
    }

    fn open_error(dir: &Path) -> SearchError {
        SearchIndex::open(dir).expect_err("open should fail")
    }

    /// Commits an empty index with `schema` and `payload` in `dir`, bypassing `SearchIndex`.
    fn commit_foreign_index(dir: &Path, schema: Schema, payload: Option<&str>) {
        std::fs::create_dir(dir).unwrap();
        let index = Index::create_in_dir(dir, schema).unwrap();
        index.tokenizers().register(ANALYZER_NAME, word_analyzer());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut prepared = writer.prepare_commit().unwrap();
        if let Some(payload) = payload {
            prepared.set_payload(payload);
        }
        prepared.commit().unwrap();
    }

    #[test]
    fn open_rejects_missing_garbage_and_foreign_indexes() {
        let dir = TempDir::new().unwrap();
        let path = |name: &str| dir.path().join(name);
        assert!(matches!(
            open_error(&path("absent")),
            SearchError::Missing(_)
        ));
        assert!(matches!(open_error(dir.path()), SearchError::Missing(_)));

        std::fs::create_dir(path("garbage")).unwrap();
        std::fs::write(path("garbage").join("meta.json"), "{not json").unwrap();
        assert!(matches!(
            open_error(&path("garbage")),
            SearchError::Corrupt(_)
        ));

        let (schema, _) = build_schema();
        let other_version = format!("{COMMIT_PAYLOAD_TAG} v999 seq=7");
        commit_foreign_index(&path("other-version"), schema.clone(), Some(&other_version));
        let err = open_error(&path("other-version"));
        assert!(matches!(
            err,
            SearchError::SchemaVersion { found: Some(999) }
        ));

        commit_foreign_index(&path("no-payload"), schema, None);
        let err = open_error(&path("no-payload"));
        assert!(matches!(err, SearchError::SchemaVersion { found: None }));

        let mut other_schema = Schema::builder();
        other_schema.add_text_field("title", STRING);
        commit_foreign_index(
            &path("other-schema"),
            other_schema.build(),
            Some(&commit_payload(3)),
        );
        assert!(matches!(
            open_error(&path("other-schema")),
            SearchError::SchemaMismatch
        ));
    }

    #[test]
    fn html_is_escaped_and_matches_marked() {
        let (_dir, index) = index_with(vec![post(
            "1",
            "<script>alert('x')</script> & dragon",
            "Body with <b>\"dragon\"</b> & <script>",
            &[],
            1,
        )]);
        let (hits, _) = index.search(&query("dargon", DocKind::Post)).unwrap();
        assert_eq!(
            hits[0].title_html,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <mark>dragon</mark>"
        );
        assert_eq!(
            hits[0].snippet_html,
            "Body with &lt;b&gt;&quot;<mark>dragon</mark>&quot;&lt;/b&gt; &amp; &lt;script&gt;"
        );
        let (hits, _) = index.search(&query("script", DocKind::Post)).unwrap();
        assert!(
            hits[0]
                .title_html
                .starts_with("&lt;<mark>script</mark>&gt;")
        );
        assert!(!hits[0].title_html.contains("<script"));
        assert!(!hits[0].snippet_html.contains("<script"));
    }

    #[test]
    fn snippet_comes_from_body_else_extra_else_is_empty() {
        let body = format!("{}the red dragon sleeps", "lorem ipsum ".repeat(30));
        let mut with_prompt = post("1", "Untitled", &body, &[], 1);
        with_prompt.extra = "a knight, oil painting".to_owned();
        let (_dir, index) = index_with(vec![with_prompt]);
        let (hits, _) = index.search(&query("dragon", DocKind::Post)).unwrap();
        assert!(hits[0].snippet_html.starts_with("…"));
        assert!(
            hits[0]
                .snippet_html
                .ends_with("red <mark>dragon</mark> sleeps")
        );
        let (hits, _) = index.search(&query("knigt", DocKind::Post)).unwrap();
        assert_eq!(hits[0].snippet_html, "a <mark>knight</mark>, oil painting");
        let (hits, _) = index.search(&query("untitled", DocKind::Post)).unwrap();
        assert_eq!(hits[0].title_html, "<mark>Untitled</mark>");
        assert_eq!(hits[0].snippet_html, "");
    }

    #[test]
    fn unicode_is_folded_and_safe() {
        let (_dir, index) = index_with(vec![
            post(
                "accent",
                "Café crème",
                "Ünïcödé ✨ body 🐉 dragon",
                &["日本語"],
                1,
            ),
            post("plain", "cafe noir", "", &[], 2),
        ]);
        let mut both = post_ids(&index, "cafe");
        both.sort();
        assert_eq!(both, ["accent", "plain"]);
        let mut both = post_ids(&index, "CAFÉ");
        both.sort();
        assert_eq!(both, ["accent", "plain"]);
        assert_eq!(post_ids(&index, "日本語"), ["accent"]);
        assert_eq!(post_ids(&index, "日本"), ["accent"]);
        assert_eq!(post_ids(&index, "unicode"), ["accent"]);
        assert!(post_ids(&index, "🐉").is_empty());

        let (hits, _) = index.search(&query("creme dragon", DocKind::Post)).unwrap();
        assert_eq!(hits[0].title_html, "Café <mark>crème</mark>");
        assert_eq!(
            hits[0].snippet_html,
            "Ünïcödé ✨ body 🐉 <mark>dragon</mark>"
        );
    }

    #[test]
    fn hostile_queries_are_harmless() {
        let (_dir, index) = index_with(sample_posts());
        let long_word = "a".repeat(10_000);
        let long_text = "dragon ".repeat(1_500);
        let long_emoji = "🐉é\u{0}".repeat(3_000);
        let punctuation =
            r#"" : ( ) * \ title:dragon "dragon dragon AND (castle OR +a -b drag* ~2 [a TO z]"#;
        let hostile = punctuation.split(' ').chain([
            "",
            "   \t\n",
            "\u{0}",
            &long_word,
            &long_text,
            &long_emoji,
        ]);
        for text in hostile {
            let result = index.search(&query(text, DocKind::Post));
            assert!(result.is_ok(), "{text:.40}");
        }
        assert!(
            index
                .search(&query("", DocKind::Post))
                .unwrap()
                .0
                .is_empty()
        );
        assert_eq!(post_ids(&index, "title:dragon").len(), 0);
        assert_eq!(post_ids(&index, "\"red dragon").len(), 1);
        let unlimited = Query {
            limit: 0,
            offset: usize::MAX,
            ..query("dragon", DocKind::Post)
        };
        assert_eq!(index.search(&unlimited).unwrap(), (Vec::new(), 2));
        let far = Query {
            offset: usize::MAX,
            limit: usize::MAX,
            ..query("dragon", DocKind::Post)
        };
        assert_eq!(index.search(&far).unwrap(), (Vec::new(), 2));
    }
}
